"""The invocation context: what the platform said about this delivery.

Handlers take one CloudEvent; the context of the event being handled is available through
:func:`portable.context` (a context variable, so threads and asyncio tasks each see their own).

**Stable ids for published events.** :meth:`Context.next_id` gives the n-th event a handler
publishes while handling event E the id ``uuid5(handler, E.source, E.id, n)``. The pipeline
restarts the count before every call of the handler (each in-process retry and each platform
redelivery), so a handler that fails after publishing and runs again publishes the same ids,
and consumers with an idempotency store drop the copies. Publish in the same order on every
run (the n-th event must be the same event each time).
"""

from __future__ import annotations

import contextvars
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cloudevents.http import CloudEvent


class Context:
    """What the platform said about one delivery (a plain class, not a dataclass: importing
    ``dataclasses`` pulls in ``inspect`` and costs a cold start about 10 ms).

    ``provider``: "aws", "azure", "gcp" or "local".
    ``attempt``: the platform's delivery attempt number, where it gives one (SQS
    ApproximateReceiveCount, Pub/Sub deliveryAttempt, queue dequeueCount); else the store's
    delivery counter fills it.
    ``max_attempts``: how many deliveries the platform makes; None when the platform
    dead-letters by itself (an SQS queue's redrive policy) and the framework must never treat an
    attempt as the last.
    ``deadline``: ``time.time()`` by which this invocation must be done (Lambda's remaining time).
    ``raw``: the delivery as the platform passed it (payload, request, message).
    ``correlation_id``: the platform's request id, for logs.
    ``event`` / ``handler``: the CloudEvent being handled and the name of the handler running
    (set by the pipeline), None outside a handler.
    ``published``: how many ids :meth:`next_id` has given during this call of the handler.
    """

    def __init__(
        self,
        provider: str = "local",
        attempt: int | None = None,
        max_attempts: int | None = None,
        deadline: float | None = None,
        raw: Any = None,
        correlation_id: str | None = None,
        extras: dict[str, Any] | None = None,
        event: CloudEvent | None = None,
        handler: str | None = None,
    ) -> None:
        self.provider = provider
        self.attempt = attempt
        self.max_attempts = max_attempts
        self.deadline = deadline
        self.raw = raw
        self.correlation_id = correlation_id
        self.extras: dict[str, Any] = {} if extras is None else extras
        self.event = event
        self.handler = handler
        self.published = 0

    def __repr__(self) -> str:
        return (f"Context(provider={self.provider!r}, attempt={self.attempt!r}, "
                f"max_attempts={self.max_attempts!r}, deadline={self.deadline!r}, "
                f"correlation_id={self.correlation_id!r})")

    def evolve(self, **changes: Any) -> Context:
        """A copy with ``changes`` (without re-running ``__init__``: every event makes one)."""
        copy = object.__new__(Context)
        copy.__dict__.update(self.__dict__, **changes)
        return copy

    def begin(self, event: CloudEvent, handler: str) -> None:
        """Called by the pipeline before each call of the handler: restart the sequence."""
        self.event, self.handler, self.published = event, handler, 0

    def next_id(self) -> str:
        """The id of the next event the handler publishes: derived from the event being
        handled and the sequence number, the same on every retry. Outside a handler, a random
        uuid4 (there is nothing to derive from)."""
        if self.event is None:
            return str(uuid.uuid4())
        self.published += 1
        return derived_id(self.event, self.handler or "", self.published)

    def remaining(self, now: float | None = None) -> float | None:
        """Seconds left before the deadline, or None when the platform sets none."""
        if self.deadline is None:
            return None
        return self.deadline - (time.time() if now is None else now)


PUBLISHED_NAMESPACE = uuid.UUID("4d2f6a4e-9b1c-5e8a-a7c3-2f0d8b6e1c94")
"""The uuid5 namespace of ids derived for published events."""


def derived_id(event: CloudEvent, handler: str, sequence: int) -> str:
    """The id of the ``sequence``-th event (1-based) ``handler`` publishes while handling
    ``event``: the same for the same three, different for any other (a hash, uuid5)."""
    name = f"{handler}\x1f{event['source']}\x1f{event['id']}\x1f{sequence}"
    return str(uuid.uuid5(PUBLISHED_NAMESPACE, name))


_current: contextvars.ContextVar[Context | None] = contextvars.ContextVar(
    "portable_context", default=None
)


def context() -> Context:
    """The context of the event being handled (a default local one outside a handler)."""
    return _current.get() or Context()


def activate(ctx: Context) -> contextvars.Token[Context | None]:
    return _current.set(ctx)


def deactivate(token: contextvars.Token[Context | None]) -> None:
    _current.reset(token)
