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


def test_the_default_handler_writes_the_line_any_handler_would_get(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Alone on the logger, the default handler is written to without a LogRecord; with a
    second handler attached both get the same line (but for its time)."""
    import os

    from portable import _logging

    read_fd, write_fd = os.pipe()
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(_logging, "_own", None)
    stderr = os.fdopen(write_fd, "w")  # the default handler writes to stderr's descriptor
    monkeypatch.setattr("sys.stderr", stderr)
    _logging.configure()
    fields = {"event_id": "e-1", "event_type": "t", "source": "/s", "attempt": 2,
              "outcome": "processed", "duration_ms": 1.5, "subject": None, "payload": SECRET}

    def written() -> dict[str, object]:
        entry: dict[str, object] = json.loads(os.read(read_fd, 65536).decode())
        assert isinstance(entry.pop("time"), str)
        return entry

    _logging.log(logging.INFO, "processed", **fields)
    alone = written()
    assert alone == {"level": "info", "logger": "portable", "message": "processed",
                     "event_id": "e-1", "event_type": "t", "source": "/s", "attempt": 2,
                     "outcome": "processed", "duration_ms": 1.5}  # no None, no payload
    seen: list[logging.LogRecord] = []
    collector = logging.Handler()
    collector.emit = seen.append  # type: ignore[method-assign]
    logger.addHandler(collector)
    try:
        _logging.log(logging.INFO, "processed", **fields)
    finally:
        logger.removeHandler(collector)
    assert written() == alone
    stderr.close()
    os.close(read_fd)
    assert seen[0].outcome == "processed"  # type: ignore[attr-defined]


def test_a_line_is_written_before_write_returns() -> None:
    """Nothing waits in memory after the call (a Lambda is frozen when it returns)."""
    import os

    from portable._logging import LineHandler

    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    handler = LineHandler(write_fd)
    for n in range(3):
        handler.write(f"line {n}")
        assert os.read(read_fd, 4096) == f"line {n}\n".encode()
    os.close(write_fd)
    os.close(read_fd)
