"""Events, handlers and clocks of the contract suite, and the code its worker processes run.

Worker functions live here, in an importable module, so that ``spawn`` children can run them;
each child opens the store from its URL, as a separate function instance would.
"""

from __future__ import annotations

import os
import threading
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

from cloudevents.http import CloudEvent

from portable import Context, Pipeline, Result, Store, context, new_event
from portable._config import store_from

SOURCE = "/contract/orders"


def event(event_id: str = "evt-1", data: Any = None, source: str = SOURCE) -> CloudEvent:
    return new_event(
        {"id": event_id, "source": source, "type": "com.example.order.created"},
        {"order": 1} if data is None else data,
    )


class Calls:
    """A handler that counts its calls, notes the attempt it saw, and returns or raises."""

    def __init__(self, result: Any = "done", *errors: BaseException) -> None:
        self.result = result
        self.errors = list(errors)
        self.ids: list[str] = []
        self.attempts: list[int | None] = []
        self._lock = threading.Lock()

    def __call__(self, ev: CloudEvent) -> Any:
        with self._lock:
            self.ids.append(ev["id"])
            self.attempts.append(context().attempt)
            error = self.errors.pop(0) if self.errors else None
        if error is not None:
            raise error
        return self.result

    @property
    def count(self) -> int:
        return len(self.ids)


class Clock:
    """An injected clock: tests move time instead of sleeping."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


RACE_OUTCOMES = {"processed", "duplicate", "retry:EventInProgress"}
"""All a racing delivery may get: never a store error."""


def describe(result: Result) -> str:
    """``outcome`` or ``outcome:ErrorType``: what a racing delivery got, in a picklable form."""
    error = "" if result.error is None else f":{type(result.error).__name__}"
    return f"{result.outcome.value}{error}"


# -- worker processes ----------------------------------------------------------------------


def record_run(ev: CloudEvent) -> int:
    """The race handler: appends this process's id to the log named in the event."""
    with open(ev.data["log"], "a", encoding="utf-8") as log:
        log.write(f"{os.getpid()}\n")
    time.sleep(0.05)  # long enough for the other claimers to find the claim live
    return os.getpid()


def race(url: str, log: str, threads: int, start: Barrier, results: Queue[list[str]]) -> None:
    """Process the same event from ``threads`` threads once every process is ready."""
    pipeline = Pipeline(record_run, store=url, dlq="memory://", name="race", retry=1)
    ev = event("race-1", {"log": log})
    ready = threading.Barrier(threads)
    outcomes: list[str] = []

    def one() -> None:
        ready.wait(timeout=30)
        outcomes.append(describe(pipeline.process(ev)))

    start.wait(timeout=60)
    workers = [threading.Thread(target=one) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    pipeline.close()
    results.put(outcomes)


def claim_once(store: Store, key: str, start: Barrier, results: Queue[tuple[bool, bool]]) -> None:
    """On an inherited store, once every process is ready: claim a key of this process's own,
    then the shared ``key``; report both wins."""
    token = f"pid-{os.getpid()}"
    start.wait(timeout=60)
    own = store.claim(token, token, 1000.0, 2000.0, None).token == token
    results.put((own, store.claim(key, token, 1000.0, 2000.0, None).token == token))


def claim_and_hang(
    url: str, key: str, lease: float, claimed: ProcessEvent, expiry: Queue[float]
) -> None:
    """Claim ``key`` with a short lease, then hang until killed."""
    now = time.time()
    record = store_from(url).claim(key, "crashed-worker", now, now + lease, None)
    expiry.put(record.expires_at)
    claimed.set()
    time.sleep(120)


def handle_and_hang(url: str, running: ProcessEvent) -> None:
    """Run the pipeline on ``event("crash-1")`` with a handler that hangs until killed."""

    def hang(ev: CloudEvent) -> None:
        running.set()
        time.sleep(120)

    pipeline = Pipeline(hang, store=url, dlq="memory://", name="crash", retry=1)
    pipeline.process(event("crash-1"), Context(deadline=time.time() + 1))
