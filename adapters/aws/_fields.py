"""Reading fields of AWS payloads with errors that say which field was wrong.

Provider-neutral in substance (the lead may move ``require``, ``text`` and ``rfc3339`` to
portable/): every adapter reads nested JSON and turns epoch timestamps into CloudEvent times.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from portable._errors import MalformedEventError


def require(obj: Any, *path: str, what: str) -> Any:
    """``obj[path[0]][path[1]]...``; MalformedEventError naming the first missing step."""
    node = obj
    for depth, name in enumerate(path, start=1):
        if not isinstance(node, Mapping) or node.get(name) is None:
            raise MalformedEventError(f"{what} has no {'.'.join(path[:depth])}")
        node = node[name]
    return node


def text(obj: Any, *path: str, what: str) -> str:
    """A required, non-empty string field."""
    value = require(obj, *path, what=what)
    if not isinstance(value, str) or not value:
        raise MalformedEventError(f"{what} field {'.'.join(path)} must be a non-empty string")
    return value


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
