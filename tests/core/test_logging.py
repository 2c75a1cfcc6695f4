"""Logs are JSON lines with the event's identity and outcome, never its payload."""

from __future__ import annotations

import json
import logging

import pytest

from portable import MemorySink, MemoryStore, PermanentError, Pipeline, new_event
from portable._logging import JsonFormatter, logger

SECRET = "4111-1111-1111-1111"


def test_log_lines_carry_identity_and_outcome_but_not_the_payload(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def handler(event: object) -> None:
        raise PermanentError("card declined")

    pipeline = Pipeline(handler, store=MemoryStore(), dlq=MemorySink(), retry=1)
    caplog.handler.setFormatter(JsonFormatter())
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="portable"):
            pipeline.process(
                new_event(
                    {"id": "pay-1", "source": "/shop", "type": "com.example.pay"}, {"card": SECRET}
                )
            )
    finally:
        logger.removeHandler(caplog.handler)
    lines = [json.loads(line) for line in caplog.text.splitlines() if line.startswith("{")]
    assert lines, "no JSON log line written"
    entry = lines[-1]
    assert entry["event_id"] == "pay-1" and entry["event_type"] == "com.example.pay"
    assert (
        entry["source"] == "/shop" and entry["attempt"] == 1 and entry["outcome"] == "dead_lettered"
    )
    assert entry["error_type"] == "PermanentError"
    assert SECRET not in caplog.text


def test_concurrent_lines_reach_a_pipe_whole() -> None:
    import os
    import threading

    from portable._logging import LineHandler

    read_fd, write_fd = os.pipe()
    handler = LineHandler(write_fd)
    handler.setFormatter(JsonFormatter())
    chunks: list[bytes] = []
    reader = threading.Thread(
        target=lambda: chunks.extend(iter(lambda: os.read(read_fd, 65536), b""))
    )
    reader.start()

    def write(n: int) -> None:
        for i in range(200):
            handler.handle(
                logging.makeLogRecord(
                    {
                        "msg": f"thread {n} line {i} " + "x" * 300,
                        "levelno": logging.INFO,
                        "levelname": "INFO",
                    }
                )
            )

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    os.close(write_fd)
    reader.join()
    os.close(read_fd)
    lines = b"".join(chunks).decode().splitlines()
    assert len(lines) == 1600
    assert all(json.loads(line)["message"].startswith("thread ") for line in lines)
