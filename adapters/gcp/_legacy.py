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
from portable._events import content_id, new_event
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

STORAGE_RESOURCE = re.compile(r"^(projects/[^/]+/buckets/[^/]+)/(objects/.+?)(?:#\d+)?$")


def is_legacy(obj: Mapping[str, Any]) -> bool:
    return isinstance(obj.get("context"), Mapping) or "eventType" in obj


def from_legacy(obj: Mapping[str, Any]) -> CloudEvent:
    """One legacy background event (the HTTP body, parsed) -> its CloudEvent."""
    context = obj["context"] if isinstance(obj.get("context"), Mapping) else {}

    def field(name: str) -> Any:
        return context[name] if name in context else obj.get(name)

    event_type = field("eventType")
    if event_type not in LEGACY_TYPES:
        known = ", ".join(sorted(LEGACY_TYPES))
        raise MalformedEventError(f"unsupported legacy event type {event_type!r}; known: {known}")
    resource = field("resource")
    if isinstance(resource, Mapping):
        service, name = resource.get("service") or _service(event_type), resource.get("name")
    else:
        service, name = _service(event_type), resource
    if not isinstance(name, str) or not name:
        raise MalformedEventError(f"legacy {event_type} event names no resource")
    data = obj.get("data")
    if not isinstance(data, Mapping):
        raise MalformedEventError(f"legacy {event_type} event has no data object")
    event_id = field("eventId") or content_id(event_type, name, data)
    reshape = _RESHAPE.get(service)
    if reshape is None:
        raise MalformedEventError(f"legacy {event_type} event names service {service!r}")
    resource_name, subject, data = reshape(name, dict(data), event_id, field("timestamp"))
    return resolve(new_event({
        "id": event_id,
        "source": f"//{service}/{resource_name}",
        "type": _ce_type(event_type, data),
        "subject": subject,
        "time": field("timestamp"),
        "datacontenttype": JSON,
    }, data))


def _service(event_type: str) -> str:
    for prefix, service in SERVICE_PREFIXES.items():
        if event_type.startswith(prefix):
            return service
    raise MalformedEventError(f"no service for legacy event type {event_type!r}")


def _ce_type(event_type: str, data: Mapping[str, Any]) -> str:
    if event_type == OBJECT_CHANGE:
        return OBJECT_CHANGE_STATES.get(str(data.get("resourceState")), LEGACY_TYPES[event_type])
    return LEGACY_TYPES[event_type]


Reshaped = tuple[str, str | None, dict[str, Any]]


def _storage(name: str, data: dict[str, Any], event_id: str, timestamp: Any) -> Reshaped:
    match = STORAGE_RESOURCE.match(name)
    if match is None:
        raise MalformedEventError(
            f"Cloud Storage resource {name!r} is not projects/_/buckets/<bucket>/objects/<name>")
    return match.group(1), match.group(2), data


def _pubsub(name: str, data: dict[str, Any], event_id: str, timestamp: Any) -> Reshaped:
    data.setdefault("messageId", event_id)
    if timestamp is not None:
        data.setdefault("publishTime", timestamp)
    return name, None, {"message": data}


_RESHAPE: dict[str, Callable[[str, dict[str, Any], str, Any], Reshaped]] = {
    STORAGE_SERVICE: _storage,
    PUBSUB_SERVICE: _pubsub,
}
