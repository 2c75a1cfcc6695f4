"""Pipeline cost per event: an S3 notification through the Lambda entry (conversion, claim,
a handler that does nothing, complete, the JSON log line) with the memory and the sqlite store.

    python -m tests.benchmarks.pipeline_cost [--events N] [--rounds R]

Each event is new (its own request id and sequencer), so every one is claimed and completed;
the peer is the bare handler called with the same events already converted. Log lines are
formatted and written line by line as in production, to the null device.
Events per second of CPU time on one core (a machine shared with other work does not move it;
the sqlite store in WAL mode syncs at checkpoints only); each figure is the best of its rounds.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from portable import MemorySink, Store
from tests.benchmarks._table import Row, Target, quiet_logs, run_alone
from tests.benchmarks.store_throughput import memory, sqlite
from tests.conftest import fixture

TARGETS = {"memory": 20_000.0, "sqlite": 2_000.0}
"""Events per second on one core (issue 13)."""


def payloads(count: int, tag: str) -> list[dict[str, Any]]:
    """``count`` S3 notifications of distinct objects (distinct CloudEvent ids)."""
    template = fixture("aws/s3_object_created_put.json")
    out = []
    for index in range(count):
        payload = copy.deepcopy(template)
        record = payload["Records"][0]
        record["responseElements"]["x-amz-request-id"] = f"{tag}{index:08d}"
        record["s3"]["object"]["key"] = f"uploads/{tag}/{index}.jpg"
        record["s3"]["object"]["sequencer"] = f"{index:016X}"
        out.append(payload)
    return out


def noop(event: Any) -> None:
    return None


STORES: dict[str, Callable[[], AbstractContextManager[Store]]] = {"memory": memory,
                                                                   "sqlite": sqlite}


def through_entry(store: Store, events: int, rounds: int) -> float:
    """Best events/s of the Lambda entry over ``rounds`` rounds of new events."""
    from adapters import aws

    function = aws.lambda_handler(noop, store=store, dlq=MemorySink())
    function(payloads(1, "warm")[0], None)  # first use: the store's schema, caches
    best = 0.0
    for round_ in range(rounds):
        batch = payloads(events, f"r{round_}-")
        started = time.process_time()
        for payload in batch:
            answer = function(payload, None)
            if answer != {"events": 1, "processed": 1}:
                raise RuntimeError(f"the entry answered {answer}")
        best = max(best, events / max(time.process_time() - started, 1e-9))
    return best


def bare_handler(events: int, rounds: int) -> float:
    """Best events/s of the handler alone, called with the converted events."""
    from adapters import aws

    converted = [aws.to_cloudevents(payload)[0] for payload in payloads(events, "bare")]
    best = 0.0
    for _ in range(rounds):
        started = time.process_time()
        for event in converted:
            noop(event)
        best = max(best, events / max(time.process_time() - started, 1e-9))
    return best


def rows(quick: bool = False, events: int = 2000, rounds: int = 8) -> list[Row]:
    events, rounds = (20, 1) if quick else (events, rounds)
    bare = bare_handler(events, rounds)
    out = []
    with quiet_logs():
        for name, open_store in STORES.items():
            with open_store() as store:
                rate = through_entry(store, events, rounds)
            out.append(Row(f"pipeline: S3 event via Lambda entry, {name} store (peer: bare "
                           "handler)", rate, "events/s", bare,
                           Target(TARGETS[name], at_least=True),
                           note=f"{1e6 / rate:.0f} us/event"))
    return out



if __name__ == "__main__":
    run_alone(rows, "pipeline cost per event")
