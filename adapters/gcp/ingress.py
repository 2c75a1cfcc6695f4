"""Google Cloud deliveries -> CloudEvents (pure: no SDK, no I/O).

The delivery is detected from its shape; the user never names it. What a function may be given:

- a CloudEvent: functions-framework's object, a structured-mode JSON object, or an HTTP request
  in binary mode (``ce-*`` headers), structured mode (``application/cloudevents+json``) or a
  batch (``application/cloudevents-batch+json``), as Eventarc delivers Cloud Storage and
  Pub/Sub events;
- a legacy Cloud Functions background event (Cloud Storage, Pub/Sub): converted as the
  functions-framework conformance mapping says (see ``_legacy``);
- a Pub/Sub push request body ``{"message": ..., "subscription": ..., "deliveryAttempt": n}``;
- a message pulled with google-cloud-pubsub (duck-typed; the SDK is never imported).

Every Pub/Sub message then yields the CloudEvent it carries (``ce-*`` attributes), the storage
event of a Cloud Storage notification, or Google's ``messagePublished`` event (see
``_pubsub``). Anything else raises MalformedEventError naming what was expected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from cloudevents.http import CloudEvent

from portable._errors import MalformedEventError
from portable._events import (
    SHAPE_ERRORS,
    from_binary,
    from_structured,
    http_attributes,
    is_mapping,
    lowered_headers,
    reading,
    wrong_shape,
)

from ._legacy import from_legacy, is_legacy
from ._pubsub import is_pulled_message, published, pulled, resolve

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
# An HTTP request is a binary-mode CloudEvent when it has one of these headers.
BINARY_HEADERS = frozenset({"ce-specversion", "ce-id", "ce-source", "ce-type"})
# Where a push endpoint's URL names the topic (functions-framework reads it the same way).
TOPIC_IN_PATH = re.compile(r"projects/[^/?]+/topics/[^/?]+")


class Item(NamedTuple):
    """What the platform acknowledges or redelivers as one (an HTTP request, a pulled
    message): its CloudEvents, and the attempt number the platform reported (Pub/Sub's
    ``deliveryAttempt``, sent only with a dead-letter policy; None elsewhere)."""

    raw: Any
    events: list[CloudEvent]
    attempt: int | None = None


def to_cloudevents(payload: Any, headers: Mapping[str, str] | None = None, *,
                   subscription: str | None = None, topic: str | None = None) -> list[CloudEvent]:
    """The CloudEvents of one delivery.

    ``payload``: a CloudEvent, a parsed JSON body, a pulled Pub/Sub message, or an HTTP body
    (bytes or text; pass its ``headers`` for binary mode). ``subscription`` / ``topic`` name
    where a pulled message or push envelope came from, when the payload does not say.
    """
    if headers is None and payload.__class__ is dict:  # parsed JSON: two calls fewer
        try:
            return _from_value(payload, topic, payload, subscription).events
        except SHAPE_ERRORS as exc:
            raise wrong_shape(exc) from None
    return read(payload, headers, subscription=subscription, topic=topic).events


def read(payload: Any, headers: Mapping[str, str] | None = None, *,
         subscription: str | None = None, topic: str | None = None) -> Item:
    """:func:`to_cloudevents`, with the delivery's attempt number."""
    if headers is not None or isinstance(payload, bytes | str):
        return read_http(headers or {}, payload, topic=topic)
    try:
        return _read_object(payload, subscription, topic)
    except SHAPE_ERRORS as exc:  # a field of the wrong shape is bad input
        raise wrong_shape(exc) from None


def read_http(headers: Mapping[str, str], body: bytes | str, path: str = "", *,
              topic: str | None = None) -> Item:
    """An HTTP request (headers, body, URL path) -> its Item: what both entries and
    ``portable serve`` hand to the pipeline."""
    fields = lowered_headers(headers)
    content_type = fields.get("content-type")
    media = (content_type or "").split(";", 1)[0].strip().lower()
    found = TOPIC_IN_PATH.search(path)
    topic = topic or (found.group(0) if found else None)
    if media not in (STRUCTURED, BATCH) and BINARY_HEADERS & fields.keys():
        attributes = http_attributes(headers)
        return _guarded(lambda: Item(body, [resolve(from_binary(attributes, body, content_type))]))
    value = _json(body)
    if media == STRUCTURED:
        return _guarded(lambda: Item(body, [resolve(from_structured(value))]))
    return _guarded(lambda: _from_value(value, topic, body))


def _read_object(payload: Any, subscription: str | None, topic: str | None) -> Item:
    if payload.__class__ is not dict:  # parsed JSON, the common case, is neither of these
        if isinstance(payload, CloudEvent):
            return Item(payload, [resolve(payload)])
        if is_pulled_message(payload):
            return Item(payload, [pulled(payload, subscription=subscription, topic=topic)],
                        _attempt(getattr(payload, "delivery_attempt", None)))
    return _from_value(payload, topic, payload, subscription)


def _from_value(value: Any, topic: str | None, raw: Any,
                subscription: str | None = None) -> Item:
    if isinstance(value, list):  # a CloudEvents batch
        return Item(raw, [resolve(from_structured(entry)) for entry in value])
    if value.__class__ is dict or is_mapping(value):
        for matches, convert in _FORMS:
            if matches(value):
                return convert(value, raw, topic, subscription)
    raise MalformedEventError(_unrecognised(value))


# -- the forms of a JSON object, tried in order ---------------------------------------------

def _is_structured(obj: Mapping[str, Any]) -> bool:
    return "specversion" in obj


def _structured(obj: Mapping[str, Any], raw: Any, topic: str | None,
                subscription: str | None) -> Item:
    return Item(raw, [resolve(from_structured(dict(obj)))])


def _legacy(obj: Mapping[str, Any], raw: Any, topic: str | None, subscription: str | None) -> Item:
    return Item(raw, [from_legacy(obj)])


def _is_push(obj: Mapping[str, Any]) -> bool:
    return isinstance(obj.get("message"), Mapping)


def _push(obj: Mapping[str, Any], raw: Any, topic: str | None, subscription: str | None) -> Item:
    named = obj.get("subscription")
    if named is not None and not isinstance(named, str):
        raise MalformedEventError("Pub/Sub push field subscription must be a string")
    event = published(obj["message"], subscription=named or subscription, topic=topic)
    return Item(raw, [event], _attempt(obj.get("deliveryAttempt")))


_FORMS: tuple[tuple[Callable[[Mapping[str, Any]], bool],
                    Callable[[Mapping[str, Any], Any, str | None, str | None], Item]], ...] = (
    (_is_structured, _structured),
    (is_legacy, _legacy),
    (_is_push, _push),
)


# -- helpers ---------------------------------------------------------------------------------

def _attempt(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise MalformedEventError(f"deliveryAttempt must be a positive integer, not {value!r}")
    return value


def _json(body: bytes | str) -> Any:
    if not body:
        raise MalformedEventError("the request has no body: " + _EXPECTED)
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedEventError("the request body is not JSON: " + _EXPECTED) from None


_EXPECTED = ("expected a CloudEvent (binary or structured mode), a legacy Cloud Functions "
             "event or a Pub/Sub push message")


def _unrecognised(value: Any) -> str:
    if isinstance(value, Mapping):
        return f"not recognised (keys {sorted(map(str, value))[:10]}): {_EXPECTED}"
    return f"not recognised (a {type(value).__name__}): {_EXPECTED}"


def _guarded(convert: Callable[[], Item]) -> Item:
    """Run a conversion; a field of the wrong shape becomes a MalformedEventError too."""
    with reading():
        return convert()
