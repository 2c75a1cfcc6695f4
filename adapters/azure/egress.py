"""CloudEvents out to Azure: Event Grid (CloudEvents schema) and Storage queue messages.

``from_cloudevent`` is pure; ``publish`` sends (the SDKs are imported when it is called).

* ``target="eventgrid"``: the structured CloudEvent (a dict), which is what an Event Grid
  topic with the CloudEvents v1.0 input schema accepts and delivers unchanged; bytes data
  travel as ``data_base64``.
* ``target="queue"``: the structured CloudEvent's JSON, UTF-8, **base64-encoded**: the queue
  trigger decodes base64 by default (host.json ``extensions.queues.messageEncoding``:
  ``base64``, the default, or ``none``). Base64 also keeps any text safe in the service's
  XML. The part 1 ingress reads it back: the trigger passes the decoded JSON, and
  ``queue_items(text, encoding="base64")`` reads text fetched with the SDK.

Round trip law (tests/azure/test_egress.py, with generated events): an event published here
and received by the same provider's ingress is the same CloudEvent.

``publish(event, destination)``: ``azqueue://QUEUE[?connection=SETTING]`` sends to a Storage
queue of the account in ``AzureWebJobsStorage`` (or SETTING) and returns the message id; an
``https://`` topic endpoint (``.../api/events``) sends with azure-eventgrid's
``EventGridPublisherClient`` (``credential``: the topic key as a string, an
``AzureKeyCredential``/``AzureSasCredential`` or a TokenCredential) and returns the event id.
The client is given the ``cloudevents`` CloudEvent itself, which it serializes with the
cloudevents SDK: the body is exactly the structured form above. (Given a dict, it converts
it to azure-core's CloudEvent, which re-formats ``time``, and in azure-eventgrid 4.22 drops a
``+02:00`` offset, shifting the time.) The client accepts an ``http://`` endpoint with a key
credential (local emulators, tests); a TokenCredential needs https. Failures are portable errors:
RetryableError when transient, ConfigurationError for a missing queue or a refused key,
PermanentError otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from cloudevents.http import CloudEvent

from portable import _tracing
from portable._emit import with_id
from portable._errors import ConfigurationError, PermanentError, RetryableError, missing_extra
from portable._events import to_json, to_structured

from . import _errors, _queue
from ._storage import DEFAULT_SETTING, parse_url, service_client

EVENTGRID_PACKAGE = "azure-eventgrid"
EVENTGRID_OPTIONS: dict[str, Any] = {
    "retry_total": 2, "retry_backoff_factor": 0.2, "retry_backoff_max": 2,
    "connection_timeout": 5, "read_timeout": 30,
}
"""Per-call options (the client drops constructor options for Event Grid basic topics): fail
within seconds, not minutes; the caller's retry policy or the platform's redelivery decides
what comes next."""


def to_event_grid(event: CloudEvent) -> dict[str, Any]:
    """The CloudEvent in Event Grid's CloudEvents v1.0 schema (structured JSON)."""
    return to_structured(event)


def to_queue_message(event: CloudEvent) -> str:
    """The Storage queue message text: the structured CloudEvent, base64-encoded."""
    text = _queue.encode(to_json(event))
    if len(text) > _queue.MESSAGE_LIMIT:
        raise PermanentError(
            f"event {event['id']!r} is {len(text)} characters as a base64 queue message; a "
            f"Storage queue message holds {_queue.MESSAGE_LIMIT}: send a reference instead")
    return text


TARGETS: dict[str, Callable[[CloudEvent], Any]] = {
    "eventgrid": to_event_grid,
    "queue": to_queue_message,
}


def from_cloudevent(event: CloudEvent, target: str = "eventgrid") -> Any:
    """The native message for ``target``: ``"eventgrid"`` (a dict) or ``"queue"`` (text)."""
    try:
        convert = TARGETS[target]
    except KeyError:
        raise ConfigurationError(
            f"unknown Azure egress target {target!r}; known: {', '.join(TARGETS)}") from None
    return convert(event)


def publish(event: CloudEvent, destination: str, *, credential: Any = None) -> str:
    """Send ``event`` to a Storage queue (``azqueue://QUEUE``) or an Event Grid topic endpoint
    (``https://...``); returns the queue message id or the event id."""
    scheme = urlsplit(destination).scheme.lower()
    try:
        send = _PUBLISHERS[scheme]
    except KeyError:
        raise ConfigurationError(
            f"cannot publish to {destination!r}: use azqueue://QUEUE or an Event Grid topic "
            "endpoint https://<topic>.<region>-1.eventgrid.azure.net/api/events") from None
    return send(_tracing.stamped(with_id(event)), destination, credential)


def _to_queue(event: CloudEvent, destination: str, credential: Any) -> str:
    parsed = parse_url(destination, "azqueue", "queue", {"connection"})
    text = to_queue_message(event)
    with _errors.mapped(f"Azure Storage queue {parsed.location!r}", RetryableError):
        setting = parsed.options.get("connection") or DEFAULT_SETTING
        client = service_client("queue", setting).get_queue_client(parsed.location)
        try:
            sent = client.send_message(text)
        finally:
            client.close()
    return str(sent.id)


def _to_event_grid(event: CloudEvent, endpoint: str, credential: Any) -> str:
    try:
        from azure.core.credentials import AzureKeyCredential
        from azure.eventgrid import EventGridPublisherClient
    except ImportError as exc:
        raise missing_extra("azure", EVENTGRID_PACKAGE) from exc
    if credential is None:
        raise ConfigurationError(
            f"publishing to Event Grid topic {endpoint} needs credential=: the topic key, an "
            "AzureSasCredential or a TokenCredential")
    if isinstance(credential, str):
        credential = AzureKeyCredential(credential)
    with _errors.mapped(f"Event Grid topic {endpoint}", RetryableError), \
            EventGridPublisherClient(endpoint, credential) as client:
        client.send([event], **EVENTGRID_OPTIONS)
    return str(event["id"])


_PUBLISHERS: dict[str, Callable[[CloudEvent, str, Any], str]] = {
    "azqueue": _to_queue,
    "https": _to_event_grid,
    "http": _to_event_grid,
}
