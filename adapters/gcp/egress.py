"""CloudEvent -> Pub/Sub message, by the CloudEvents Pub/Sub protocol binding.

:func:`from_cloudevent` is pure (no SDK, no I/O); :func:`publish` sends the message with
google-cloud-pubsub, imported when first called.

- binary mode (the default): the data as the message data, each context attribute as a
  ``ce-<name>`` attribute, ``datacontenttype`` as the ``content-type`` attribute. Subscribers
  can filter on the attributes, and a push endpoint or Eventarc trigger sees the event's own
  id. Pub/Sub limits what attributes hold (a value at most 1024 bytes, at most 100 of them);
  an event beyond them raises MalformedEventError naming the limit: send it structured.
- structured mode: the JSON event format as the data, ``content-type`` =
  ``application/cloudevents+json``; any size up to Pub/Sub's 10 MB message limit.

In both modes the event's trace is also written as ``googclient_traceparent`` /
``googclient_tracestate``, where google-cloud-pubsub's OpenTelemetry tracing reads it: a
subscriber built on the client library alone joins the same trace.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from cloudevents.http import CloudEvent

from portable import _tracing
from portable._emit import with_id
from portable._errors import MalformedEventError, RetryableError
from portable._events import to_binary, to_json

from ._errors import installed, translated
from ._pubsub import CLIENT_TRACE_PREFIX

if TYPE_CHECKING:
    from google.cloud.pubsub_v1 import PublisherClient

Mode = Literal["binary", "structured"]
STRUCTURED_TYPE = "application/cloudevents+json"
MAX_ATTRIBUTES = 100
MAX_VALUE_BYTES = 1024
PUBLISH_TIMEOUT = 60.0


@dataclass(frozen=True)
class Message:
    """A Pub/Sub message as publishing takes it: data and string attributes."""

    data: bytes
    attributes: dict[str, str] = field(default_factory=dict)


def from_cloudevent(event: CloudEvent, mode: Mode = "binary") -> Message:
    """The Pub/Sub message that carries ``event`` in ``mode`` ("binary" or "structured")."""
    encode = _MODES.get(mode)
    if encode is None:
        raise ValueError(f"unknown mode {mode!r}: use 'binary' or 'structured'")
    message = encode(event)
    for name in (_tracing.TRACEPARENT, _tracing.TRACESTATE):
        value = event.get(name)
        if value is not None:
            message.attributes[CLIENT_TRACE_PREFIX + name] = str(value)
    _check_attributes(message.attributes)
    return message


def publish(event: CloudEvent, topic: str, *, mode: Mode = "binary",
            publisher: PublisherClient | None = None,
            timeout: float = PUBLISH_TIMEOUT) -> str:
    """Publish ``event`` to ``topic`` (``projects/P/topics/T``) and wait for Pub/Sub to store
    it; returns the message id. The default client is created once per process.

    A transient failure raises RetryableError; a missing topic or missing rights,
    ConfigurationError.
    """
    message = from_cloudevent(_tracing.stamped(with_id(event)), mode)
    client = publisher or default_publisher()
    with translated(f"publishing to {topic}", RetryableError):
        future = client.publish(topic, message.data, **message.attributes)
        return str(future.result(timeout=timeout))


@functools.cache
def default_publisher() -> PublisherClient:
    """One publisher per process (it holds a gRPC channel and a batching thread). It reaches
    PUBSUB_EMULATOR_HOST when set, else Pub/Sub with the ambient credentials."""
    with installed("google-cloud-pubsub"):
        from google.cloud.pubsub_v1 import PublisherClient
    with translated("creating a Pub/Sub publisher", RetryableError):
        return PublisherClient()


def _binary(event: CloudEvent) -> Message:
    attributes, data = to_binary(event)
    return Message(data or b"", attributes)


def _structured(event: CloudEvent) -> Message:
    return Message(to_json(event).encode("utf-8"), {"content-type": STRUCTURED_TYPE})


_MODES: dict[str, Callable[[CloudEvent], Message]] = {
    "binary": _binary,
    "structured": _structured,
}


def _check_attributes(attributes: dict[str, str]) -> None:
    hint = "; publish it with mode='structured'"
    if len(attributes) > MAX_ATTRIBUTES:
        raise MalformedEventError(
            f"the event has {len(attributes)} attributes; a Pub/Sub message holds at most "
            f"{MAX_ATTRIBUTES}{hint}")
    for key, value in attributes.items():
        if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
            raise MalformedEventError(
                f"attribute {key!r} is {len(value.encode('utf-8'))} bytes; Pub/Sub attribute "
                f"values hold at most {MAX_VALUE_BYTES}{hint}")
