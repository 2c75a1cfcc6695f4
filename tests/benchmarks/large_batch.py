"""Large batch: an SQS batch of 10 messages of 256 KiB each (SQS's classic size limit) through
the Lambda entry, with the memory store and sink and a handler that only looks at its event's
data (so the figures are the framework's, not a handler's).

    python -m tests.benchmarks.large_batch [--rounds R]

Peak memory is what tracemalloc sees allocated during one call of the entry beyond what was
allocated before it (the batch itself, already parsed by the Lambda runtime, is not counted),
against the batch's size: the bodies' bytes. Time per batch is measured separately, without
tracemalloc (which slows allocation), as the best of ``rounds`` batches of new messages.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from typing import Any

from portable import MemorySink, MemoryStore
from tests.benchmarks._table import Row, Target, quiet_logs, run_alone

MESSAGES = 10
MESSAGE_BYTES = 256 * 1024
PEAK_RATIO = 3.0
"""Peak memory over the baseline, in batch sizes (issue 13)."""
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:orders"


def body(size: int, tag: str) -> str:
    """A JSON document of ``size`` bytes: order lines, as a batch export would carry."""
    line = {"sku": "SKU-000000", "quantity": 3, "price": "19.99", "note": "gift wrap"}
    unit = len(json.dumps(line)) + 2
    lines = [dict(line, sku=f"SKU-{index:06d}") for index in range(size // unit)]
    text = json.dumps({"order": tag, "lines": lines})
    return text + " " * (size - len(text))


def batch(tag: str, size: int = MESSAGE_BYTES, messages: int = MESSAGES) -> dict[str, Any]:
    """An SQS event source mapping batch of ``messages`` messages of ``size`` bytes each."""
    return {"Records": [{
        "messageId": f"{tag}-{index}",
        "receiptHandle": f"handle-{tag}-{index}",
        "body": body(size, f"{tag}-{index}"),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000",
                       "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp":
                       "1700000000001"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    } for index in range(messages)]}


def handle(event: Any) -> int:
    return len(event.get_data()["body"])


def entry() -> Any:
    from adapters import aws

    return aws.lambda_handler(handle, store=MemoryStore(), dlq=MemorySink())


def peak_bytes(function: Any, payload: dict[str, Any]) -> int:
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        answer = function(payload, None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    if answer != {"batchItemFailures": []}:
        raise RuntimeError(f"the entry answered {answer}")
    return peak - baseline


def rows(quick: bool = False, rounds: int = 5) -> list[Row]:
    size, rounds = (4096, 1) if quick else (MESSAGE_BYTES, rounds)
    with quiet_logs():
        function = entry()
        function(batch("warm", size), None)
        peak = peak_bytes(function, batch("peak", size))
        best = float("inf")
        for round_ in range(rounds):
            payload = batch(f"time{round_}", size)
            started = time.perf_counter()
            function(payload, None)
            best = min(best, time.perf_counter() - started)
    batch_bytes = size * MESSAGES
    mib = 1024 * 1024
    return [
        Row(f"large batch: SQS {MESSAGES} x {size // 1024} KiB via Lambda entry, peak memory "
            "(peer: batch size)", peak / mib, "MiB", batch_bytes / mib,
            Target(PEAK_RATIO, compared=True), note="tracemalloc, over the baseline"),
        Row(f"large batch: SQS {MESSAGES} x {size // 1024} KiB via Lambda entry, time per batch",
            best * 1000, "ms", note=f"best of {rounds}"),
    ]



if __name__ == "__main__":
    run_alone(rows, "a batch of 10 x 256 KiB SQS messages")
