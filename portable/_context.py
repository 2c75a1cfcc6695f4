"""The invocation context: what the platform said about this delivery.

Handlers take one CloudEvent; the context of the event being handled is available through
:func:`portable.context` (a context variable, so threads and asyncio tasks each see their own).
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Context:
    provider: str = "local"
    """"aws", "azure", "gcp" or "local"."""
    attempt: int | None = None
    """The platform's delivery attempt number, where it gives one (SQS ApproximateReceiveCount,
    Pub/Sub deliveryAttempt, queue dequeueCount); else the store's delivery counter fills it."""
    max_attempts: int | None = None
    """How many deliveries the platform makes; None when the platform dead-letters by itself
    (an SQS queue's redrive policy) and the framework must never treat an attempt as the last."""
    deadline: float | None = None
    """``time.time()`` by which this invocation must be done (Lambda's remaining time, ...)."""
    raw: Any = None
    """The delivery as the platform passed it (payload, request, message)."""
    correlation_id: str | None = None
    """The platform's request id, for logs."""
    extras: dict[str, Any] = field(default_factory=dict)

    def remaining(self, now: float | None = None) -> float | None:
        """Seconds left before the deadline, or None when the platform sets none."""
        if self.deadline is None:
            return None
        return self.deadline - (time.time() if now is None else now)


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
