"""The Event Grid webhook (an HTTP route), independent of azure.functions' request type.

- ``OPTIONS`` with ``WebHook-Request-Origin``: the CloudEvents abuse-protection handshake
  (CloudEvents schema subscriptions). Answered 200 with ``WebHook-Allowed-Origin`` (the origin
  asked for) and ``WebHook-Allowed-Rate`` (the rate asked for, else ``*``). A
  ``WebHook-Request-Callback`` is not called: the synchronous answer already validates.
- ``POST`` of a ``Microsoft.EventGrid.SubscriptionValidationEvent`` (Event Grid schema): 200
  ``{"validationResponse": <validationCode>}``.
- ``POST`` of events (Event Grid or CloudEvents schema, single or batch, or one binary-mode
  CloudEvent): each bad entry is stored as a dead letter with its raw JSON, each good one runs
  through the pipeline. 200 when everything is acknowledged, so Event Grid neither retries nor
  drops bad input (a 400 would make it dead-letter or drop the whole batch).

Event Grid treats a batch all-or-none: any non-2xx redelivers every event of it. So one event
that must be retried fails the whole answer, and the redelivery brings the good events back:
the idempotency store answers them as duplicates (their stored result) without running the
handler again, and entries that were bad are dead-lettered again (at least once, like every
dead letter). Nothing good is lost and nothing runs twice.

Status for what Event Grid must retry: 429 when the event is busy elsewhere (another worker's
live claim, an open circuit), 503 when a backend is down (store, dead-letter sink) or time ran
out, 500 when the handler failed and has attempts left. Event Grid allows 30 s per answer: that
is the deadline the pipeline works within.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portable._context import Context
from portable._entry import NotAttempted
from portable._errors import (
    CircuitOpenError,
    EventInProgress,
    MalformedEventError,
    SinkUnavailable,
    StoreUnavailable,
)
from portable._events import from_binary, has_binary_attributes, lowered_headers
from portable._pipeline import Pipeline, Result

from . import ingress
from ._deliver import deliver

ANSWER_WITHIN = 30.0
"""Seconds Event Grid waits for an answer before it counts the delivery as failed."""

ALLOWED_METHODS = "POST, OPTIONS"

# The error of a result that must be retried -> the status Event Grid gets (first match wins).
RETRY_STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (EventInProgress, 429),
    (CircuitOpenError, 429),
    (NotAttempted, 503),
    (SinkUnavailable, 503),
    (StoreUnavailable, 503),
)
HANDLER_RETRY_STATUS = 500


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def handshake(method: str, headers: Mapping[str, str], body: bytes) -> Answer | None:
    """The answer to a validation handshake (OPTIONS, or a SubscriptionValidationEvent);
    None for a delivery of events. A handshake runs nothing."""
    lowered = lowered_headers(headers)
    if method.upper() == "OPTIONS":
        return _abuse_protection(lowered)
    # Event Grid marks event deliveries "Notification": only other requests are parsed twice.
    if lowered.get("aeg-event-type") != "Notification":
        code = ingress.validation_code(body)
        if code is not None:
            return Answer(200, {"validationResponse": code})
    return None


def handle(pipeline: Pipeline, headers: Mapping[str, str], body: bytes, ctx: Context) -> Answer:
    """A delivery of events (not a :func:`handshake`) -> the answer Event Grid gets."""
    lowered = lowered_headers(headers)
    ctx = ctx.evolve(deadline=time.time() + ANSWER_WITHIN)
    return _answer(deliver(pipeline, _items(lowered, body), ctx))


def _abuse_protection(headers: Mapping[str, str]) -> Answer:
    allow = {"Allow": ALLOWED_METHODS}
    origin = headers.get("webhook-request-origin")
    if not origin:
        return Answer(200, headers=allow)
    return Answer(200, headers={
        **allow,
        "WebHook-Allowed-Origin": origin,
        "WebHook-Allowed-Rate": headers.get("webhook-request-rate") or "*",
    })


def _items(headers: Mapping[str, str], body: bytes) -> list[ingress.Item]:
    if not has_binary_attributes(headers):
        return ingress.to_items(body)
    try:
        event = from_binary(headers, body, headers.get("content-type"))
    except MalformedEventError as exc:
        return [ingress.Item(raw=body, error=exc)]
    return [ingress.Item(raw=body, event=event)]


def _answer(results: list[Result]) -> Answer:
    summary = [{"id": r.event_id, "outcome": r.outcome.value} for r in results]
    failed = [r for r in results if not r.acked]
    if not failed:
        return Answer(200, {"results": summary})
    return Answer(_retry_status(failed[0].error), {"results": summary})


def _retry_status(error: BaseException | None) -> int:
    for kind, status in RETRY_STATUS:
        if isinstance(error, kind):
            return status
    return HANDLER_RETRY_STATUS


def encode(answer: Answer) -> bytes:
    return b"" if answer.body is None else json.dumps(answer.body).encode("utf-8")
