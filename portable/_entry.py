"""What every provider entry shares: the platforms' default attempt limits, and running the
events of one delivery through the pipeline within the platform's deadline.

The provider entries (adapters.<provider>.entry) only translate: a platform payload in,
CloudEvents through :func:`run_events`, and the results out in the platform's terms.
"""

from __future__ import annotations

from collections.abc import Iterable

from cloudevents.http import CloudEvent

from ._context import Context
from ._errors import RetryableError
from ._pipeline import Outcome, Pipeline, Result

# Deliveries each platform makes by default (SEMANTICS.md). None: the platform dead-letters by
# itself (an SQS redrive policy, a Pub/Sub dead-letter policy reported per message) and the
# framework must not treat any attempt as the last on its own.
LAMBDA_ASYNC_ATTEMPTS = 3
SQS_ATTEMPTS: int | None = None
BLOB_TRIGGER_ATTEMPTS = 5
QUEUE_TRIGGER_ATTEMPTS = 5
EVENT_GRID_ATTEMPTS = 30
EVENTARC_ATTEMPTS = 1  # Cloud Functions / Eventarc retries are off by default
PUBSUB_ATTEMPTS: int | None = None
LOCAL_ATTEMPTS = 1  # nothing redelivers a local HTTP request

DEADLINE_MARGIN = 2.0
"""Seconds before the platform's deadline at which no new event of a batch is started."""


class NotAttempted(RetryableError):
    """The event was not started: the deadline was near, or an earlier event of an ordered
    batch failed. The platform keeps it and redelivers."""


def run_events(
    pipeline: Pipeline,
    events: Iterable[CloudEvent],
    ctx: Context,
    *,
    ordered: bool = False,
    now: float | None = None,
) -> list[Result]:
    """Process events in order; one Result per event.

    ``ordered`` (FIFO queues): after the first failure the rest are not started. Near the
    deadline the remaining events are not started either; both come back as RETRY results
    with a :class:`NotAttempted` error, never silently dropped.
    """
    results: list[Result] = []
    stop: str | None = None
    for event in events:
        if stop is None:
            remaining = ctx.remaining(now)
            if remaining is not None and remaining < DEADLINE_MARGIN:
                stop = f"not started: {remaining:.1f}s left before the platform's deadline"
        if stop is not None:
            results.append(Result(Outcome.RETRY, event.get("id"), error=NotAttempted(stop)))
            continue
        result = pipeline.process(event, ctx.evolve())
        results.append(result)
        if ordered and not result.acked:
            stop = "not started: an earlier message of this ordered batch failed"
    return results


class RedeliveryRequired(RetryableError):
    """Raised by an entry so that the platform redelivers: an event of the delivery was not
    acknowledged (Lambda async retries, the Functions host retries or poisons, Eventarc and
    Pub/Sub answer non-2xx). The acknowledged events of the same delivery come back as
    duplicates and do not run again."""


def raise_for_retry(results: list[Result]) -> None:
    """Raise RedeliveryRequired if any event of a delivery must be retried."""
    failed = [result for result in results if not result.acked]
    if failed:
        first = failed[0]
        raise RedeliveryRequired(
            f"{len(failed)} of {len(results)} event(s) must be retried; first "
            f"{first.event_id!r}: {first.error}") from first.error


def summarize(results: list[Result]) -> dict[str, int]:
    """What an entry answers for a finished delivery: the number of events (bad input, which
    has no event, is left out) and a count per outcome, e.g. ``{"events": 1, "processed": 1}``."""
    summary = {"events": sum(result.event_id is not None for result in results)}
    for result in results:
        summary[result.outcome.value] = summary.get(result.outcome.value, 0) + 1
    return summary
