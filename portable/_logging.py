"""JSON-lines logs: one object per line with the event's id, type, source, correlation id and
attempt. Never the payload: data may hold personal information and can be large.

The ``portable`` logger writes to stderr, which every platform ships to its log service
(CloudWatch, Application Insights, Cloud Logging). PORTABLE_LOG_LEVEL sets its level.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger("portable")

_FIELDS = (
    "event_id",
    "event_type",
    "source",
    "subject",
    "correlation_id",
    "attempt",
    "provider",
    "handler",
    "outcome",
    "error",
    "error_type",
    "duration_ms",
)


PIPE_BUF = 4096
"""Bytes one write to a pipe delivers whole, whatever other writers do (POSIX, Linux)."""
_KNOWN = frozenset(_FIELDS)
"""The fields a line may hold (nothing else, so never a payload)."""
_READY = "portable_fields"
"""The record attribute holding :func:`log`'s fields, in the order they are written."""
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str, check_circular=False)
"""One encoder for every line: ``json.dumps`` with options builds a new one per call. A line
is flat (its values are scalars, or strings by ``default``), so there is no cycle to look for."""


class JsonFormatter(logging.Formatter):
    """One JSON object per record. A record made by :func:`log` carries its fields ready
    (``portable_fields``); another one's known ``extra`` fields are looked for."""

    def format(self, record: logging.LogRecord) -> str:
        fields = record.__dict__.get(_READY)
        if fields is None:  # someone else's call on the portable logger
            fields = {name: record.__dict__[name] for name in _FIELDS
                      if record.__dict__.get(name) is not None}
        traceback = (self.formatException(record.exc_info)
                     if record.exc_info and record.levelno >= logging.ERROR else None)
        return _line(record.created, record.levelname, record.name, record.getMessage(), fields,
                     traceback)


_second: tuple[int, str] = (-1, "")
"""The last whole second written and its text (formatting a datetime took a fifth of a
line): one tuple, replaced whole, so that threads never pair one second with another's text."""


def _line(created: float, level: str, name: str, message: str, fields: dict[str, Any],
          traceback: str | None = None) -> str:
    global _second
    second = int(created)
    cached = _second
    if cached[0] != second:
        cached = _second = (
            second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    entry: dict[str, Any] = {"time": f"{cached[1]}.{int((created - second) * 1e6):06d}Z",
                             "level": level.lower(), "logger": name, "message": message,
                             **fields}
    if traceback is not None:
        entry["traceback"] = traceback
    return _ENCODER.encode(entry)


class LineHandler(logging.Handler):
    """Lines to stderr's descriptor, never buffered across calls: when :meth:`write` returns,
    its line has been written (a frozen Lambda or a killed process loses nothing).

    Group commit: a thread that finds another one writing leaves its line to that one, which
    writes every waiting line (in writes of at most PIPE_BUF bytes, 4 KiB, each reaching a
    pipe whole) before it returns. Under a threaded server's load several lines then share
    one system call; a lone caller (one Lambda invocation) writes its own line at once."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd
        self._waiting: list[bytes] = []
        self._writer = threading.Lock()

    def handle(self, record: logging.LogRecord) -> bool:  # no handler lock: see write()
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write(self.format(record))
        except Exception:  # noqa: BLE001 - logging must never fail the event
            self.handleError(record)

    def write(self, line: str) -> None:
        self._waiting.append((line + "\n").encode("utf-8", "replace"))
        # Whoever holds the writer looks for waiting lines again after letting it go, so a
        # line appended while it wrote is never left behind.
        while self._waiting and self._writer.acquire(blocking=False):
            try:
                batch = self._waiting[:]
                del self._waiting[:len(batch)]
                for chunk in _chunks(batch):
                    os.write(self.fd, chunk)
            finally:
                self._writer.release()


def _chunks(lines: list[bytes]) -> Iterator[bytes]:
    """Lines joined into writes of at most PIPE_BUF bytes (a longer line alone)."""
    chunk = b""
    for line in lines:
        if chunk and len(chunk) + len(line) > PIPE_BUF:
            yield chunk
            chunk = b""
        chunk += line
    if chunk:
        yield chunk


_own: LineHandler | None = None
"""The handler :func:`configure` attached, while it is the logger's only one."""


def configure() -> None:
    """Attach the JSON handler once, unless the application configured ``portable`` itself."""
    global _own
    if logger.handlers:
        return
    handler: logging.Handler
    try:
        handler = _own = LineHandler(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):  # stderr replaced by an object without a fd
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(os.environ.get("PORTABLE_LOG_LEVEL", "INFO").upper())
    logger.propagate = False


def log(level: int, message: str, **fields: Any) -> None:
    """Write one line (the pipeline writes one per event).

    While the logger has only its own handler (the default), the line is written without a
    LogRecord: making one and passing it through logging cost half of a line's time. With any
    other handler or filter, the record is made, here rather than by ``logger.log`` (which
    would walk the stack to find its caller, always this function).
    """
    if not logger.isEnabledFor(level):
        return
    ready = {k: v for k, v in fields.items() if v is not None and k in _KNOWN}
    own = _own
    if (own is not None and logger.handlers == [own] and level >= own.level
            and not (logger.filters or own.filters)):
        with contextlib.suppress(OSError):  # logging must never fail the event
            own.write(_line(time.time(), logging.getLevelName(level), logger.name, message,
                            ready))
        return
    # ``extra`` too, for handlers other than ours (portable.testing's, an application's own)
    # that read ``record.outcome``...
    logger.handle(logger.makeRecord(logger.name, level, __file__, _LINE, message, (), None,
                                    "log", {**ready, _READY: ready}))


_LINE = log.__code__.co_firstlineno
