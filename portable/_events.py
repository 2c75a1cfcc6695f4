"""CloudEvent construction, validation and the wire forms every adapter shares.

The SDK's ``CloudEvent`` invents an ``id`` and a ``time`` when they are missing. That is wrong
for us twice over: an invented id breaks idempotency, and an invented time breaks the round
trip law. Everything here builds events from attributes that were actually delivered.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Protocol, TypeGuard

from cloudevents.http import CloudEvent

from ._errors import MalformedEventError

REQUIRED = ("id", "source", "type", "specversion")
_NAME = r"^[a-z0-9]{1,20}$"
"""Compiled on first use (``re`` keeps it), not at import: see portable._tracing."""
_CONTEXT_ATTRIBUTES = frozenset(
    {"id", "source", "type", "specversion", "datacontenttype", "dataschema", "subject", "time"}
)


def new_event(attributes: Mapping[str, Any], data: Any = None) -> CloudEvent:
    """A CloudEvent with exactly ``attributes`` (``specversion`` defaults to 1.0).

    Unlike ``CloudEvent(attributes, data)`` nothing is invented: the caller must give ``id``,
    ``source`` and ``type``, and ``time`` stays absent unless given. Attributes whose value is
    None are dropped, which lets adapters map optional fields without branches.
    """
    attrs: dict[str, Any] = {}
    for name, value in attributes.items():  # one pass: drop None, check each (every event)
        if value is None:
            continue
        if name not in _CONTEXT_ATTRIBUTES:
            _check_name(name)
        if value.__class__ is not str and not isinstance(value, str | int | bool):
            raise _not_a_string(name, value)
        attrs[name] = value
    attrs.setdefault("specversion", "1.0")
    _check_required(attrs)
    # The SDK's constructor is skipped: it would lower-case names already checked to be lower
    # case, check the required ones again and invent a ``time`` for us to delete, together as
    # costly as converting the whole delivery (tests/benchmarks/conversion.py). The 1.x API
    # (pinned) keeps exactly these two fields; tests/test_fast_paths.py checks that the
    # result equals what the constructor builds.
    event: CloudEvent = CloudEvent.__new__(CloudEvent)
    event._attributes = attrs
    event.data = data
    return event


def validate_attributes(attrs: Mapping[str, Any]) -> None:
    """Raise MalformedEventError naming the first problem with a set of context attributes."""
    _check_required(attrs)
    for name, value in attrs.items():
        if name not in _CONTEXT_ATTRIBUTES:
            _check_name(name)
        if value.__class__ is not str and not isinstance(value, str | int | bool):
            raise _not_a_string(name, value)


def _check_required(attrs: Mapping[str, Any]) -> None:
    if not (attrs.get("id") and attrs.get("source") and attrs.get("type")
            and attrs.get("specversion")):
        missing = [name for name in REQUIRED if not attrs.get(name)]
        raise MalformedEventError(
            f"CloudEvent is missing required attribute(s): {', '.join(missing)}"
        )
    if attrs["specversion"] != "1.0":
        raise MalformedEventError(
            f"unsupported CloudEvents specversion {attrs['specversion']!r}; only '1.0' is accepted"
        )


def _check_name(name: str) -> None:
    if not re.match(_NAME, name):
        raise MalformedEventError(
            f"invalid CloudEvent attribute name {name!r}: use 1-20 lowercase letters or digits"
        )


def _not_a_string(name: str, value: object) -> MalformedEventError:
    return MalformedEventError(
        f"CloudEvent attribute {name!r} must be a string, not {type(value).__name__}"
    )


def is_structured(obj: object) -> bool:
    """True when ``obj`` looks like a CloudEvent in structured JSON form."""
    return isinstance(obj, dict) and "specversion" in obj and "type" in obj and "source" in obj


def from_structured(obj: object) -> CloudEvent:
    """A structured-mode JSON object (parsed) -> CloudEvent; MalformedEventError if invalid."""
    if not isinstance(obj, dict):
        raise MalformedEventError(
            f"a structured CloudEvent must be a JSON object, not {type(obj).__name__}"
        )
    attrs = {k: v for k, v in obj.items() if k not in ("data", "data_base64")}
    if "data_base64" in obj:
        data: Any = decode_base64(obj["data_base64"], "data_base64")
    else:
        data = obj.get("data")
    return new_event(attrs, data)


def from_json(body: bytes | str) -> CloudEvent:
    """Structured-mode JSON text -> CloudEvent."""
    try:
        obj = json.loads(body)
    except ValueError as exc:
        raise MalformedEventError(f"CloudEvent body is not valid JSON: {exc}") from None
    return from_structured(obj)


class Headers(Protocol):
    """A dict of headers, or a web framework's own header view (werkzeug's ``Headers``)."""

    def items(self) -> Iterable[tuple[str, str]]: ...


def lowered_headers(headers: Headers) -> dict[str, str]:
    """HTTP headers in a plain dict, names in lower case. A WSGI header view walks the whole
    request environment on each pass: an entry makes this once per request and hands it on."""
    return {name.lower(): value for name, value in headers.items()}


def http_attributes(headers: Mapping[str, str]) -> dict[str, str]:
    """The ``ce-*`` headers of an HTTP request in binary mode, names lowercased and values
    percent-decoded (the HTTP binding percent-encodes what is not printable ASCII)."""
    from urllib.parse import unquote

    return {name.lower(): unquote(value) for name, value in headers.items()
            if name[:3].lower() == "ce-"}


def from_binary(
    attributes: Mapping[str, str],
    data: bytes | str | None,
    content_type: str | None,
    prefix: str = "ce-",
) -> CloudEvent:
    """Binary mode: ``ce-``-prefixed attributes (HTTP headers, SQS/Pub/Sub attributes) + payload."""
    attrs: dict[str, Any] = {
        k[len(prefix) :].lower(): v for k, v in attributes.items() if k.lower().startswith(prefix)
    }
    if content_type:
        attrs["datacontenttype"] = content_type
    return new_event(attrs, decode_data(data, content_type))


def has_binary_attributes(attributes: Mapping[str, Any], prefix: str = "ce-") -> bool:
    keys = {k.lower() for k in attributes}
    return {prefix + "specversion", prefix + "id"} <= keys


def to_structured(event: CloudEvent) -> dict[str, Any]:
    """CloudEvent -> structured-mode JSON object (bytes data as ``data_base64``)."""
    out: dict[str, Any] = dict(event.get_attributes())
    data = event.get_data()
    if isinstance(data, bytes | bytearray):
        out["data_base64"] = base64.b64encode(data).decode("ascii")
    elif data is not None:
        out["data"] = data
    return out


def to_json(event: CloudEvent) -> str:
    return json.dumps(to_structured(event), separators=(",", ":"), ensure_ascii=False)


def to_binary(event: CloudEvent, prefix: str = "ce-") -> tuple[dict[str, str], bytes | None]:
    """CloudEvent -> (``ce-`` attributes as strings, encoded payload). ``datacontenttype`` is
    returned as ``content-type``, as the HTTP, Kafka and Pub/Sub bindings carry it."""
    attrs: dict[str, str] = {}
    for name, value in event.get_attributes().items():
        key = "content-type" if name == "datacontenttype" else prefix + name
        attrs[key] = value if isinstance(value, str) else json.dumps(value)
    return attrs, encode_data(event.get_data(), event.get("datacontenttype"))


def encode_data(data: Any, content_type: str | None) -> bytes | None:
    if data is None:
        return None
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    if isinstance(data, str) and not _is_json_type(content_type):
        return data.encode("utf-8")
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode_data(data: bytes | str | None, content_type: str | None) -> Any:
    """Payload bytes -> the data a handler sees: JSON parsed for JSON content types (or none),
    text for ``text/*``, bytes otherwise."""
    if data is None or data == b"" or data == "":
        return None
    if _is_json_type(content_type) or content_type is None:
        parsed = _maybe_json(data)
        if parsed is not _NOT_JSON:
            return parsed
        if content_type is not None:
            raise MalformedEventError(f"data declared {content_type!r} is not valid JSON")
    if isinstance(data, str):
        return data
    if content_type and content_type.startswith("text/"):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data
    return data


def decode_base64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedEventError(f"{what} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise MalformedEventError(f"{what} is not valid base64") from None


def content_id(*parts: object) -> str:
    """A stable id for a delivery that carries none: a hash of what identifies it."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, bytes):
            raw = part
        elif isinstance(part, str):
            raw = part.encode("utf-8")
        else:
            raw = json.dumps(part, sort_keys=True, separators=(",", ":"), default=str).encode(
                "utf-8"
            )
        digest.update(len(raw).to_bytes(8, "big"))
        digest.update(raw)
    return digest.hexdigest()[:32]


_NOT_JSON = object()


def _maybe_json(data: bytes | str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return _NOT_JSON


def _is_json_type(content_type: object) -> bool:
    if not isinstance(content_type, str):
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json") or media == "text/json"


def is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)``, answered at once for the dicts that parsed JSON is made
    of (the ABC check costs more than the rest of reading a field)."""
    return value.__class__ is dict or isinstance(value, Mapping)


SHAPE_ERRORS = (LookupError, TypeError, AttributeError, ValueError)
"""What reading a field of the wrong shape raises (a list where an object was expected...)."""


class reading:
    """Any failure while converting a payload becomes a MalformedEventError (prefixed with
    ``what``), so a field of the wrong shape is bad input, never a crash of the batch.

    A class rather than a ``@contextmanager`` generator: it wraps every event converted, and
    a generator-based manager costs several times more to enter and leave.
    """

    __slots__ = ("what",)

    def __init__(self, what: str | None = None) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if exc is None:
            return
        if isinstance(exc, MalformedEventError):
            if self.what:
                raise MalformedEventError(f"{self.what}: {exc}") from None
            return  # unchanged
        if isinstance(exc, SHAPE_ERRORS):
            raise wrong_shape(exc, self.what) from None


def wrong_shape(exc: BaseException, what: str | None = None) -> MalformedEventError:
    """The MalformedEventError for one of :data:`SHAPE_ERRORS` raised while reading a payload
    (what :class:`reading` raises; hot paths catch SHAPE_ERRORS themselves, which is free
    when nothing is raised)."""
    prefix = f"{what}: " if what else ""
    return MalformedEventError(f"{prefix}a field has the wrong shape ({type(exc).__name__}: {exc})")
