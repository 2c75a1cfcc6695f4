"""Legacy Cloud Functions background events (Cloud Storage, Pub/Sub) -> CloudEvents, as the
functions-framework conformance mapping (docs/mapping.md) specifies:

- each context field comes from ``context/<name>``, else from the top level;
- the service is ``context/resource/service``, else found by event-type prefix;
- ``id`` = eventId, ``source`` = ``//<service>/<resource name>``, ``type`` from the table,
  ``time`` = timestamp, ``datacontenttype`` = application/json, ``data`` = data;
- Cloud Storage: the resource name splits into ``source`` (up to the bucket) and ``subject``
  (``objects/<name>``, without a ``#generation`` suffix);
- Pub/Sub: ``data`` = ``{"message": data}``, with ``messageId`` and ``publishTime`` filled in
  from the context when the message lacks them.

One extension: the mapping is silent on the old ``object.change`` event, which functions-
framework types ``finalized`` even for a deletion; here ``resourceState: not_exists`` makes it
``deleted``, so the storage view reports what happened.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from cloudevents.http import CloudEvent

from portable._errors import MalformedEventError
from portable._events import content_id, is_mapping, new_event
from portable.storage import GCP_PREFIX

from ._pubsub import JSON, PUBLISHED, PUBSUB_SERVICE, STORAGE_SERVICE, resolve

OBJECT_CHANGE = "providers/cloud.storage/eventTypes/object.change"

# Legacy eventType -> CloudEvent type (mapping.md, restricted to Cloud Storage and Pub/Sub).
LEGACY_TYPES: dict[str, str] = {
    "google.pubsub.topic.publish": PUBLISHED,
    "providers/cloud.pubsub/eventTypes/topic.publish": PUBLISHED,
    "google.storage.object.finalize": GCP_PREFIX + "finalized",
    "google.storage.object.delete": GCP_PREFIX + "deleted",
    "google.storage.object.archive": GCP_PREFIX + "archived",
    "google.storage.object.metadataUpdate": GCP_PREFIX + "metadataUpdated",
    OBJECT_CHANGE: GCP_PREFIX + "finalized",
}
# object.change: data.resourceState -> CloudEvent type, where it differs from the table above.
OBJECT_CHANGE_STATES: dict[str, str] = {"not_exists": GCP_PREFIX + "deleted"}

# eventType prefix -> service, for events whose resource names none.
SERVICE_PREFIXES: dict[str, str] = {
    "providers/cloud.pubsub/": PUBSUB_SERVICE,
    "providers/cloud.storage/": STORAGE_SERVICE,
    "google.pubsub.": PUBSUB_SERVICE,
    "google.storage.": STORAGE_SERVICE,
}

STORAGE_RESOURCE = re.compile(r"^(projects/[^/]+/buckets/[^/]+)/(objects/.+)$")
GENERATION_SUFFIX = re.compile(r"#\d+$")
"""A ``#<generation>`` ending the resource name is not part of the object's name. (One regex
with a lazy ``objects/.+?`` before an optional suffix says the same, three times slower.)"""


def is_legacy(obj: Mapping[str, Any]) -> bool:
    return is_mapping(obj.get("context")) or "eventType" in obj


def from_legacy(obj: Mapping[str, Any]) -> CloudEvent:
    """One legacy background event (the HTTP body, parsed) -> its CloudEvent."""
    found = obj.get("context")
    context: Mapping[str, Any] = found if is_mapping(found) else {}
    # Each field: context/<name>, else the top level (the mapping's rule; ``or``, not a
    # default, so the top level is only read when the context lacks the field).
    event_type: Any = context.get("eventType") or obj.get("eventType")
    ce_type = LEGACY_TYPES.get(event_type)
    if ce_type is None:
        known = ", ".join(sorted(LEGACY_TYPES))
        raise MalformedEventError(f"unsupported legacy event type {event_type!r}; known: {known}")
    resource = context.get("resource") or obj.get("resource")
    if is_mapping(resource):
        service, name = resource.get("service") or _service(event_type), resource.get("name")
    else:
        service, name = _service(event_type), resource
    if not isinstance(name, str) or not name:
        raise MalformedEventError(f"legacy {event_type} event names no resource")
    data = obj.get("data")
    if not is_mapping(data):
        raise MalformedEventError(f"legacy {event_type} event has no data object")
    event_id = context.get("eventId") or obj.get("eventId") or content_id(event_type, name, data)
    reshape = _RESHAPE.get(service)
    if reshape is None:
        raise MalformedEventError(f"legacy {event_type} event names service {service!r}")
    timestamp = context.get("timestamp") or obj.get("timestamp")
    resource_name, subject, data = reshape(name, data, event_id, timestamp)
    if event_type == OBJECT_CHANGE:
        ce_type = OBJECT_CHANGE_STATES.get(str(data.get("resourceState")), ce_type)
    event = new_event({
        "id": event_id,
        "source": f"//{service}/{resource_name}",
        "type": ce_type,
        "subject": subject,
        "time": timestamp,
        "datacontenttype": JSON,
    }, data)
    return resolve(event) if service == PUBSUB_SERVICE else event  # a message may carry one


def _service(event_type: str) -> str:
    for prefix, service in SERVICE_PREFIXES.items():
        if event_type.startswith(prefix):
            return service
    raise MalformedEventError(f"no service for legacy event type {event_type!r}")


Reshaped = tuple[str, str | None, Mapping[str, Any]]


def _storage(name: str, data: Mapping[str, Any], event_id: str, timestamp: Any) -> Reshaped:
    match = STORAGE_RESOURCE.match(name)
    if match is None:
        raise MalformedEventError(
            f"Cloud Storage resource {name!r} is not projects/_/buckets/<bucket>/objects/<name>")
    subject = match.group(2)
    if "#" in subject:  # the object's name keeps at least one character
        suffix = GENERATION_SUFFIX.search(subject, len("objects/") + 1)
        if suffix is not None:
            subject = subject[:suffix.start()]
    return match.group(1), subject, data


def _pubsub(name: str, data: Mapping[str, Any], event_id: str, timestamp: Any) -> Reshaped:
    message = dict(data)  # filled in below; the delivered payload stays as it was
    message.setdefault("messageId", event_id)
    if timestamp is not None:
        message.setdefault("publishTime", timestamp)
    return name, None, {"message": message}


_RESHAPE: dict[str, Callable[[str, Mapping[str, Any], str, Any], Reshaped]] = {
    STORAGE_SERVICE: _storage,
    PUBSUB_SERVICE: _pubsub,
}
