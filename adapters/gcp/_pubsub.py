"""Pub/Sub messages -> CloudEvents (pure).

Every Pub/Sub delivery (push envelope, pulled message, Eventarc ``messagePublished`` event,
legacy background event) ends in :func:`resolve`, which looks at the message's attributes:

- ``ce-*`` attributes (the CloudEvents Pub/Sub binding; ``datacontenttype`` travels as the
  ``content-type`` attribute): the CloudEvent the message carries;
- a Cloud Storage notification (``eventType`` OBJECT_FINALIZE ... with ``bucketId`` and
  ``objectId``): the storage CloudEvent Eventarc would deliver, ``data`` = the object resource;
- anything else: the ``google.cloud.pubsub.topic.v1.messagePublished`` event itself.

A message published by google-cloud-pubsub with OpenTelemetry tracing on carries the
publisher's trace as ``googclient_traceparent`` / ``googclient_tracestate``: an event without a
``traceparent`` of its own takes that trace as its distributed-tracing extension, so the
handler's span joins the publisher's trace.
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from cloudevents.http import CloudEvent

from portable import _tracing
from portable._errors import MalformedEventError
from portable._events import (
    content_id,
    decode_base64,
    decode_data,
    from_binary,
    from_json,
    new_event,
)
from portable.storage import GCP_PREFIX

PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
PUBSUB_SERVICE = "pubsub.googleapis.com"
STORAGE_SERVICE = "storage.googleapis.com"
CLIENT_TRACE_PREFIX = "googclient_"
"""How google-cloud-pubsub's OpenTelemetry propagation names the W3C fields it adds to a
message's attributes."""
JSON = "application/json"

# The CloudEvents Pub/Sub binding: a message is a binary-mode CloudEvent when its attributes
# carry one of the required attributes.
BINDING_ATTRIBUTES = frozenset({"ce-specversion", "ce-id", "ce-source", "ce-type"})

# Cloud Storage Pub/Sub notification ``eventType`` -> the Eventarc CloudEvent type.
NOTIFICATION_TYPES: dict[str, str] = {
    "OBJECT_FINALIZE": GCP_PREFIX + "finalized",
    "OBJECT_DELETE": GCP_PREFIX + "deleted",
    "OBJECT_ARCHIVE": GCP_PREFIX + "archived",
    "OBJECT_METADATA_UPDATE": GCP_PREFIX + "metadataUpdated",
}
# Notification attributes copied into the object resource when it lacks them, so that the
# storage view sees them (``overwrittenByGeneration`` makes ``obj.replaced`` true).
NOTIFICATION_FIELDS: dict[str, str] = {
    "bucketId": "bucket",
    "objectId": "name",
    "objectGeneration": "generation",
    "overwrittenByGeneration": "overwrittenByGeneration",
}


def published(message: Any, *, subscription: str | None = None,
              topic: str | None = None) -> CloudEvent:
    """A Pub/Sub message in its JSON form (push envelope ``message``; ``data`` base64) -> the
    CloudEvent it stands for (see :func:`resolve`).

    The ``messagePublished`` event has Google's shape: ``id`` = messageId (a hash of the
    message when it has none), ``time`` = publishTime, ``data`` = ``{"message": ...,
    "subscription": ...}``; its source names the topic when known, else the subscription.
    """
    if not isinstance(message, Mapping):
        raise MalformedEventError("a Pub/Sub message must be a JSON object")
    message_id = message.get("messageId") or message.get("message_id")
    data: dict[str, Any] = {"message": dict(message)}
    if subscription:
        data["subscription"] = subscription
    event = new_event({
        "id": message_id or content_id(PUBLISHED, message),
        "source": f"//{PUBSUB_SERVICE}/{topic or subscription or ''}".rstrip("/"),
        "type": PUBLISHED,
        "time": message.get("publishTime") or message.get("publish_time"),
        "datacontenttype": JSON,
    }, data)
    return resolve(event)


def pulled(message: Any, *, subscription: str | None = None,
           topic: str | None = None) -> CloudEvent:
    """A message pulled with google-cloud-pubsub (duck-typed: ``data``, ``attributes``,
    ``message_id``, ``publish_time``, ``ordering_key``) -> its CloudEvent."""
    body: dict[str, Any] = {
        "data": b64encode(message.data or b"").decode("ascii"),
        "attributes": dict(message.attributes or {}),
        "messageId": message.message_id,
        "publishTime": _timestamp(getattr(message, "publish_time", None)),
    }
    if getattr(message, "ordering_key", None):
        body["orderingKey"] = message.ordering_key
    return published({k: v for k, v in body.items() if v not in (None, "")},
                     subscription=subscription, topic=topic)


def is_pulled_message(payload: Any) -> bool:
    return hasattr(payload, "message_id") and hasattr(payload, "data") and hasattr(
        payload, "attributes")


def resolve(event: CloudEvent) -> CloudEvent:
    """A ``messagePublished`` event -> the CloudEvent its message carries, if any; any other
    event unchanged. Invalid base64 in the message data is a MalformedEventError."""
    if event.get("type") != PUBLISHED:
        return event
    data = event.get_data()
    message = data.get("message") if isinstance(data, Mapping) else None
    if not isinstance(message, Mapping):
        return event
    attributes = _attributes(message)
    payload = _payload(message)
    carried = next((convert(attributes, payload, event) for carries, convert in _CARRIED
                    if carries(attributes)), event)
    return _traced(carried, attributes)


def _traced(event: CloudEvent, attributes: Mapping[str, str]) -> CloudEvent:
    """``event`` with the publisher's trace from the client library's attributes, unless
    it has a trace of its own."""
    prefix = CLIENT_TRACE_PREFIX
    if event.get(_tracing.TRACEPARENT) is not None or prefix + _tracing.TRACEPARENT not in (
            attributes):
        return event
    trace = _tracing.parse(attributes[prefix + _tracing.TRACEPARENT],
                           attributes.get(prefix + _tracing.TRACESTATE))
    if trace is None:
        return event
    return new_event({**event.get_attributes(), _tracing.TRACEPARENT: trace.traceparent,
                      _tracing.TRACESTATE: trace.tracestate}, event.get_data())


def _attributes(message: Mapping[str, Any]) -> dict[str, str]:
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, Mapping) or not all(
            isinstance(value, str) for value in attributes.values()):
        raise MalformedEventError("Pub/Sub message attributes must map names to strings")
    return dict(attributes)


def _payload(message: Mapping[str, Any]) -> bytes | None:
    data = message.get("data")
    if data is None or data == "":
        return None
    return decode_base64(data, "Pub/Sub message data")


def _is_structured(attributes: Mapping[str, str]) -> bool:
    """The Pub/Sub binding's structured mode: the whole CloudEvent is the message data."""
    content_type = next((v for k, v in attributes.items() if k.lower() == "content-type"), "")
    return content_type.lower().startswith("application/cloudevents")


def _structured_cloudevent(attributes: dict[str, str], payload: bytes | None,
                           outer: CloudEvent) -> CloudEvent:
    return from_json(payload or b"")


def _carries_cloudevent(attributes: Mapping[str, str]) -> bool:
    return any(name.lower() in BINDING_ATTRIBUTES for name in attributes)


def _carried_cloudevent(attributes: dict[str, str], payload: bytes | None,
                        outer: CloudEvent) -> CloudEvent:
    return from_binary(attributes, payload, attributes.get("content-type"))


def _is_notification(attributes: Mapping[str, str]) -> bool:
    return attributes.get("eventType") in NOTIFICATION_TYPES and {
        "bucketId", "objectId"} <= attributes.keys()


def _storage_event(attributes: dict[str, str], payload: bytes | None,
                   outer: CloudEvent) -> CloudEvent:
    """A Cloud Storage notification (payload format JSON_API_V1, or NONE) as Eventarc's event."""
    resource = {} if payload is None else decode_data(payload, JSON)
    if not isinstance(resource, dict):
        raise MalformedEventError("a Cloud Storage notification payload must be a JSON object")
    for attribute, name in NOTIFICATION_FIELDS.items():
        if attribute in attributes:
            resource.setdefault(name, attributes[attribute])
    return new_event({
        "id": outer.get("id"),
        "source": f"//{STORAGE_SERVICE}/projects/_/buckets/{attributes['bucketId']}",
        "type": NOTIFICATION_TYPES[attributes["eventType"]],
        "subject": f"objects/{attributes['objectId']}",
        "time": attributes.get("eventTime") or outer.get("time"),
        "datacontenttype": JSON,
    }, resource)


_CARRIED: tuple[tuple[Callable[[Mapping[str, str]], bool],
                      Callable[[dict[str, str], bytes | None, CloudEvent], CloudEvent]], ...] = (
    (_is_structured, _structured_cloudevent),
    (_carries_cloudevent, _carried_cloudevent),
    (_is_notification, _storage_event),
)


def _timestamp(value: Any) -> str | None:
    """The SDK's publish_time (a datetime with nanoseconds) as RFC 3339."""
    if value is None or isinstance(value, str):
        return value
    if hasattr(value, "rfc3339"):
        return str(value.rfc3339())
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise MalformedEventError(f"publish_time {value!r} is not a timestamp")
