"""Reading fields of AWS payloads with errors that say which field was wrong.

Provider-neutral in substance (the lead may move ``require``, ``text`` and ``rfc3339`` to
portable/): every adapter reads nested JSON and turns epoch timestamps into CloudEvent times.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from portable._errors import MalformedEventError
from portable._events import is_mapping


def require(obj: Any, *path: str, what: str, at: str = "") -> Any:
    """``obj[path[0]][path[1]]...``; MalformedEventError naming the first missing step.
    ``at``: where ``obj`` itself sits in the payload (``"s3.object"``), for the message."""
    node = obj
    for name in path:  # every field of every event: the plain loop, the error path apart
        node = node.get(name) if node.__class__ is dict or is_mapping(node) else None
        if node is None:
            raise MalformedEventError(f"{what} has no {_missing(obj, path, at)}")
    return node


def text(obj: Any, *path: str, what: str, at: str = "") -> str:
    """A required, non-empty string field."""
    value = require(obj, *path, what=what, at=at)
    if value.__class__ is not str and not isinstance(value, str) or not value:
        where = ".".join((at, *path) if at else path)
        raise MalformedEventError(f"{what} field {where} must be a non-empty string")
    return value


def _missing(obj: Any, path: tuple[str, ...], at: str) -> str:
    """The dotted path up to the first step that is missing."""
    node, depth = obj, 0
    while depth < len(path) and is_mapping(node) and node.get(path[depth]) is not None:
        node, depth = node[path[depth]], depth + 1
    return ".".join(((at,) if at else ()) + path[: depth + 1])


def rfc3339(epoch_seconds: float) -> str:
    """Epoch seconds -> a CloudEvent ``time`` (UTC, milliseconds, ``Z``)."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_time(value: Any, *, millis: bool = False) -> str | None:
    """A delivered timestamp as a CloudEvent time: strings pass unchanged, numbers (epoch
    seconds, or milliseconds when ``millis``; SQS sends them as strings) are converted."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and not value.replace(".", "", 1).isdigit():
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise MalformedEventError(f"timestamp {value!r} is neither RFC 3339 nor a number") from None
    return rfc3339(number / 1000 if millis else number)


def parse_json(body: Any) -> Any:
    """``body`` parsed as JSON, or None when it is not JSON text."""
    if not isinstance(body, str | bytes):
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None
