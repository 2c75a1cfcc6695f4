"""Azure deliveries -> CloudEvents. Pure: no SDK client, no azure.storage / azure.data, and not
even azure.functions (its import costs ~140 ms): the host's objects are recognised by shape.

What is accepted (``to_items`` / ``to_cloudevents``):

=========================================  ===================================================
payload                                    CloudEvents
=========================================  ===================================================
Event Grid schema event, or a JSON array   Event Grid's own CloudEvents form (table below)
  of them (webhook body, single or batch)
CloudEvents schema event / array           that CloudEvent
``azure.functions.EventGridEvent``         as its Event Grid schema JSON (the worker builds
                                             one per event of a trigger delivery)
``azure.functions.CloudEvent``             as its CloudEvents JSON (what the worker builds
                                             for a CloudEvents schema subscription)
dead-letter blob content                   the original event; Event Grid's dead-letter fields
                                             (``deadLetterReason``...) go to ``Item.deadletter``
``azure.functions.InputStream``            ``Microsoft.Storage.BlobCreated`` (see ``_blob``)
``azure.functions.QueueMessage``           body = an Event Grid event / CloudEvent / array of
                                             them: those events; any other JSON: one
                                             ``Microsoft.Storage.QueueMessage`` event
=========================================  ===================================================

Event Grid schema -> CloudEvent: ``id`` -> id, ``topic`` -> source, ``eventType`` -> type,
``subject`` -> subject (left out when empty), ``eventTime`` -> time (verbatim), ``data`` ->
data. ``dataVersion`` and ``metadataVersion`` are dropped, not mapped to ``dataschema``:
dataschema must be a URI and dataVersion is a version label (``""``, ``"1"``, ``"2"``); Event
Grid's own CloudEvents deliveries of the same events carry neither (its ``aeg-data-version``
header "doesn't apply" to them). So one event is the same CloudEvent, with the same
idempotency key, whichever schema the subscription delivers.

Queue messages that are not events: type ``Microsoft.Storage.QueueMessage`` (documented here,
not an Event Grid type: Event Grid has none for queue messages), id = the queue message id,
source ``/queueServices/default/queues/<queue>``, time = insertion time, datacontenttype
``application/json``, data = the parsed JSON body. A body that is not JSON is bad input: queue
messages for this adapter carry events or JSON documents, and text that fails to parse is
usually a producer's encoding mistake. Messages are given decoded, as the queue trigger passes
them; ``queue_items(..., encoding="base64")`` reads raw message text fetched with the SDK.

Subscription validation and deletion events are control messages: they never become items
(the webhook answers the handshake through :func:`validation_code`).

Bad input never raises from :func:`to_items`: each entry of a delivery becomes an
:class:`Item` holding a CloudEvent or the :class:`MalformedEventError` that kept it from being
one, so one bad event in a batch loses none of the good ones. :func:`to_cloudevents` is the
strict form that raises.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cloudevents.http import CloudEvent

from portable._errors import MalformedEventError
from portable._events import content_id, decode_base64, from_structured, new_event

from ._blob import from_blob_properties, from_input_stream, rfc3339

VALIDATION_EVENT = "Microsoft.EventGrid.SubscriptionValidationEvent"
CONTROL_TYPES = frozenset({VALIDATION_EVENT, "Microsoft.EventGrid.SubscriptionDeletedEvent"})
QUEUE_MESSAGE_TYPE = "Microsoft.Storage.QueueMessage"

# Event Grid schema field -> CloudEvents attribute (Event Grid's own mapping).
EVENT_GRID_ATTRIBUTES: dict[str, str] = {
    "id": "id",
    "topic": "source",
    "eventType": "type",
    "subject": "subject",
    "eventTime": "time",
}
EVENT_GRID_REQUIRED = ("id", "topic", "eventType", "eventTime")

# What Event Grid adds to an event it writes to the dead-letter container (both schemas).
DEADLETTER_FIELDS = frozenset({
    "deadLetterReason", "deliveryAttempts", "lastDeliveryOutcome", "lastHttpStatusCode",
    "publishTime", "lastDeliveryAttemptTime",
    "deadletterreason", "deliveryattempts", "lastdeliveryoutcome", "lasthttpstatuscode",
    "publishtime", "lastdeliveryattempttime",
})
DEADLETTER_MARKERS = frozenset({"deadLetterReason", "deadletterreason"})


@dataclass(frozen=True)
class Item:
    """One entry of a delivery: a CloudEvent, or the error that kept it from being one."""

    raw: Any
    """The entry as delivered (JSON value, text or bytes): what a dead letter stores."""
    event: CloudEvent | None = None
    error: MalformedEventError | None = None
    deadletter: Mapping[str, Any] | None = None
    """Event Grid's dead-letter fields, for an event read back from the dead-letter container."""

    def payload(self) -> bytes | str:
        """``raw`` as text or bytes, for ``Pipeline.dead_letter_raw``."""
        if isinstance(self.raw, bytes | str):
            return self.raw
        if isinstance(self.raw, bytearray):
            return bytes(self.raw)
        return json.dumps(self.raw, ensure_ascii=False, default=str)


def to_cloudevents(payload: Any, *, queue: str | None = None) -> list[CloudEvent]:
    """Any accepted payload -> its CloudEvents; MalformedEventError if any entry is bad."""
    items = to_items(payload, queue=queue)
    errors = [item.error for item in items if item.error is not None]
    if errors:
        more = f" (and {len(errors) - 1} more bad entries)" if len(errors) > 1 else ""
        raise MalformedEventError(f"{errors[0]}{more}") from errors[0]
    return [item.event for item in items if item.event is not None]


def to_items(payload: Any, *, queue: str | None = None) -> list[Item]:
    """Any accepted payload -> one Item per entry (control events left out); never raises for
    bad input. ``queue``: the queue name, the source of plain queue messages."""
    for attributes, read in _OBJECT_READERS:
        if all(hasattr(payload, name) for name in attributes):
            return read(payload, queue)
    if isinstance(payload, bytes | bytearray | str):
        try:
            payload = json.loads(payload)
        except ValueError as exc:
            return [Item(raw=payload, error=MalformedEventError(
                f"Event Grid delivery is not valid JSON: {exc}"))]
    return _json_items(payload)


def queue_items(body: bytes | str, *, message_id: str | None = None, queue: str | None = None,
                inserted: Any = None, encoding: str | None = None) -> list[Item]:
    """A Storage queue message body -> items. ``encoding="base64"``: the raw message text as
    the SDK returns it (the queue trigger passes bodies already decoded)."""
    what = f"queue message {message_id!r}" if message_id else "queue message"
    try:
        decoded = decode_base64(_text(body), what) if encoding == "base64" else body
        value = json.loads(decoded)
    except MalformedEventError as exc:
        return [Item(raw=body, error=exc)]
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        return [Item(raw=body, error=MalformedEventError(
            f"{what} is not JSON ({exc}): queue messages must carry an Event Grid event, a "
            "structured CloudEvent or a JSON document"))]
    if _carries_events(value):
        return _json_items(value)
    attributes = {
        "id": message_id or content_id(body),
        "source": f"/queueServices/default/queues/{queue}" if queue else "/queueServices/default",
        "type": QUEUE_MESSAGE_TYPE,
        "time": rfc3339(inserted),
        "datacontenttype": "application/json",
    }
    return [Item(raw=body, event=new_event(attributes, value))]


def blob_client_items(client: Any, properties: Any) -> list[Item]:
    """An SDK-type ``BlobClient`` binding and its ``get_blob_properties()`` result (fetched by
    the entry: this module makes no calls) -> one BlobCreated item."""
    raw = {"url": client.url, "container": client.container_name, "blob": client.blob_name,
           "etag": getattr(properties, "etag", None)}
    return [_single(raw, lambda: from_blob_properties(
        client.url, client.container_name, client.blob_name, properties))]


def validation_code(payload: Any) -> str | None:
    """The ``validationCode`` of an Event Grid subscription validation request, else None."""
    if isinstance(payload, bytes | bytearray | str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return None
    for entry in payload if isinstance(payload, list) else [payload]:
        if isinstance(entry, dict) and entry.get("eventType") == VALIDATION_EVENT:
            code = (entry.get("data") or {}).get("validationCode")
            if isinstance(code, str) and code:
                return code
    return None


# -- readers ---------------------------------------------------------------------------------


def _json_items(value: Any) -> list[Item]:
    entries = value if isinstance(value, list) else [value]
    batch = isinstance(value, list)
    items = (_entry_item(entry, index if batch else None) for index, entry in enumerate(entries))
    return [item for item in items if item is not None]


def _entry_item(entry: Any, index: int | None) -> Item | None:
    where = "" if index is None else f" (batch entry {index})"
    if not isinstance(entry, dict):
        return Item(raw=entry, error=MalformedEventError(
            f"an Event Grid event must be a JSON object, not {type(entry).__name__}{where}"))
    event, deadletter = _split_deadletter(entry)
    if event.get("eventType", event.get("type")) in CONTROL_TYPES:
        return None
    for marker, convert in _SCHEMAS:
        if marker in event:
            try:
                return Item(raw=entry, event=convert(event), deadletter=deadletter)
            except MalformedEventError as exc:
                return Item(raw=entry, error=MalformedEventError(f"{exc}{where}"))
    return Item(raw=entry, error=MalformedEventError(
        "neither an Event Grid event (no 'eventType') nor a CloudEvent (no 'specversion')"
        f"{where}"))


def _split_deadletter(entry: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """An event read back from Event Grid's dead-letter container -> (event, its fields)."""
    if not DEADLETTER_MARKERS & entry.keys():
        return entry, None
    event = {k: v for k, v in entry.items() if k not in DEADLETTER_FIELDS}
    return event, {k: v for k, v in entry.items() if k in DEADLETTER_FIELDS}


def _from_event_grid(event: Mapping[str, Any]) -> CloudEvent:
    missing = [name for name in EVENT_GRID_REQUIRED if not event.get(name)]
    if missing:
        raise MalformedEventError(
            f"Event Grid event {event.get('id')!r} is missing required field(s): "
            f"{', '.join(missing)}")
    wrong = [name for name in EVENT_GRID_ATTRIBUTES
             if event.get(name) is not None and not isinstance(event[name], str)]
    if wrong:
        raise MalformedEventError(
            f"Event Grid event {event.get('id')!r}: field(s) {', '.join(wrong)} must be strings")
    attributes = {ce: event.get(eg) or None for eg, ce in EVENT_GRID_ATTRIBUTES.items()}
    return new_event(attributes, event.get("data"))


_SCHEMAS: tuple[tuple[str, Callable[[Mapping[str, Any]], CloudEvent]], ...] = (
    ("specversion", from_structured),
    ("eventType", _from_event_grid),
)


def _carries_events(value: Any) -> bool:
    entries = value if isinstance(value, list) else [value]
    return any(isinstance(e, dict) and any(m in e for m, _ in _SCHEMAS) for e in entries)


def _event_grid_object(event: Any, queue: str | None) -> list[Item]:
    """The EventGridTrigger's ``azure.functions.EventGridEvent``, back to its JSON form."""
    return _json_items({
        "id": event.id, "topic": event.topic, "subject": event.subject,
        "eventType": event.event_type, "eventTime": rfc3339(event.event_time),
        "data": event.get_json(), "dataVersion": event.data_version,
    })


def _cloudevent_object(event: Any, queue: str | None) -> list[Item]:
    """The EventGridTrigger's ``azure.functions.CloudEvent`` (CloudEvents schema delivery)."""
    fields = {
        "specversion": event.specversion, "id": event.id, "source": event.source,
        "type": event.type, "time": rfc3339(event.time), "subject": event.subject,
        "datacontenttype": event.datacontenttype, "dataschema": event.dataschema,
        **event.extension_attrs,
    }
    structured = {k: v for k, v in fields.items() if v is not None}
    if "data_base64" not in structured:
        structured["data"] = event.get_json()
    return _json_items(structured)


def _input_stream(stream: Any, queue: str | None) -> list[Item]:
    """The blob trigger's InputStream. Its dead letter keeps the metadata, not the content."""
    raw = {"name": stream.name, "uri": stream.uri, "length": stream.length,
           "properties": getattr(stream, "blob_properties", None),
           "metadata": getattr(stream, "metadata", None)}
    return [_single(raw, lambda: from_input_stream(stream))]


def _single(raw: Any, build: Callable[[], CloudEvent]) -> Item:
    try:
        return Item(raw=raw, event=build())
    except MalformedEventError as exc:
        return Item(raw=raw, error=exc)


def _queue_message(message: Any, queue: str | None) -> list[Item]:
    return queue_items(message.get_body(), message_id=message.id, queue=queue,
                       inserted=getattr(message, "insertion_time", None))


# The host's objects, by the attributes that tell them apart (first match wins).
_OBJECT_READERS: tuple[tuple[tuple[str, ...], Callable[[Any, str | None], list[Item]]], ...] = (
    (("get_body", "dequeue_count"), _queue_message),
    (("uri", "read", "name"), _input_stream),
    (("event_type", "get_json"), _event_grid_object),
    (("specversion", "get_json"), _cloudevent_object),
)


def _text(body: bytes | str) -> str:
    return body.decode("ascii", errors="replace") if isinstance(body, bytes) else body
