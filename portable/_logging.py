"""JSON-lines logs: one object per line with the event's id, type, source, correlation id and
attempt. Never the payload: data may hold personal information and can be large.

The ``portable`` logger writes to stderr, which every platform ships to its log service
(CloudWatch, Application Insights, Cloud Logging). PORTABLE_LOG_LEVEL sets its level.
"""

from __future__ import annotations

import json
import logging
import os
import sys
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


_KNOWN = frozenset(_FIELDS)
"""The fields a line may hold (nothing else, so never a payload)."""
_READY = "portable_fields"
"""The record attribute holding :func:`log`'s fields, in the order they are written."""
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)
"""One encoder for every line: ``json.dumps`` with options builds a new one per call."""


class JsonFormatter(logging.Formatter):
    """One JSON object per record. Every event writes one, so two costs are cut: the text of
    the current second is kept (formatting a datetime took a fifth of a line), and a record
    made by :func:`log` carries its fields ready (``portable_fields``), not to be looked for."""

    _second: tuple[int, str] = (-1, "")
    """The last whole second formatted and its text: one tuple, replaced whole, so that
    concurrent threads never pair one second with another's text."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        ready = record.__dict__.get(_READY)
        if ready is not None:
            entry.update(ready)
        else:  # a record of someone else's call on the portable logger: ``extra`` fields
            for name in _FIELDS:
                value = record.__dict__.get(name)
                if value is not None:
                    entry[name] = value
        if record.exc_info and record.levelno >= logging.ERROR:
            entry["traceback"] = self.formatException(record.exc_info)
        return _ENCODER.encode(entry)

    def _time(self, created: float) -> str:
        """RFC 3339, UTC, microseconds."""
        second = int(created)
        cached = self._second
        if cached[0] != second:
            cached = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
            self._second = cached
        return f"{cached[1]}.{int((created - second) * 1e6):06d}Z"


class LineHandler(logging.Handler):
    """Each line is one ``write`` system call on stderr's descriptor: never buffered (a frozen
    Lambda or a killed process loses nothing), and not serialised by a Python lock. A line of
    up to PIPE_BUF bytes (4 KiB) reaches a pipe whole even from concurrent threads; this is what
    keeps one JSON line per event cheap for a threaded server."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd

    def handle(self, record: logging.LogRecord) -> bool:  # no lock: see the class doc
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            os.write(self.fd, (self.format(record) + "\n").encode("utf-8", "replace"))
        except Exception:  # noqa: BLE001 - logging must never fail the event
            self.handleError(record)


def configure() -> None:
    """Attach the JSON handler once, unless the application configured ``portable`` itself."""
    if logger.handlers:
        return
    handler: logging.Handler
    try:
        handler = LineHandler(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):  # stderr replaced by an object without a fd
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(os.environ.get("PORTABLE_LOG_LEVEL", "INFO").upper())
    logger.propagate = False


def log(level: int, message: str, **fields: Any) -> None:
    """Write one line (the pipeline writes one per event).

    The record is made here rather than by ``logger.log``, which would walk the stack to find
    its caller: that is always this function, and the walk costs a tenth of a line's time.
    """
    if logger.isEnabledFor(level):
        ready = {k: v for k, v in fields.items() if v is not None and k in _KNOWN}
        # Also as attributes (``extra``), for handlers other than ours (portable.testing's,
        # an application's own) that read ``record.outcome``...
        logger.handle(logger.makeRecord(logger.name, level, __file__, _LINE, message, (), None,
                                        "log", {**ready, _READY: ready}))


_LINE = log.__code__.co_firstlineno
