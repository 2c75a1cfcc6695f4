"""The function Lambda calls: ``lambda_handler = aws.lambda_handler(handle)``.

The pipeline (store, dead-letter sink, retry policy) is built once, at cold start; each
invocation converts the payload (``ingress``) and runs its events within the time Lambda has
left (``context.get_remaining_time_in_millis()``). What the function answers:

**SQS event source mappings.** The partial batch response, ``{"batchItemFailures":
[{"itemIdentifier": messageId}, ...]}``, listing only the messages to redeliver (a message whose
body holds several S3 records fails if any of its events fails). The mapping must set
``FunctionResponseTypes: [ReportBatchItemFailures]``; without it Lambda ignores the response and
deletes the whole batch. FIFO queues (ARN ending in ``.fifo``): processing stops at the first
failure and every later message is reported too. Near the deadline the messages not yet started
are reported. The attempt is the message's ``ApproximateReceiveCount``; by default the
framework never treats one as the last and leaves dead-lettering of retryable failures to the
queue's redrive policy (set ``maxReceiveCount``, AWS recommends 5 or more, and a visibility
timeout of at least 6x the function timeout). Pass ``max_attempts=<maxReceiveCount>`` to have
the framework write its own dead letter on the last receive instead. A malformed message is
dead-lettered raw and acknowledged; only if that write fails is it reported for redelivery.

**Asynchronous invocations** (S3, SNS, EventBridge direct). The store counts the deliveries of
each event and the limit is Lambda's default of 3 (1 + ``MaximumRetryAttempts`` 2; pass
``max_attempts`` when you change it). An invocation with an event to retry raises, so Lambda
retries it; one whose events are all done, duplicates or dead-lettered returns a small summary
(``{"events": 1, "processed": 1}``). A payload no rule recognises is dead-lettered raw.

On Lambda both ``PORTABLE_STORE`` and ``PORTABLE_DLQ`` must be set (e.g. ``dynamodb://table``
and ``sqs://queue-url``): the entry fails at cold start otherwise.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any, Protocol

from portable import _tracing
from portable._app import App, Handler
from portable._context import Context
from portable._entry import (
    LAMBDA_ASYNC_ATTEMPTS,
    SQS_ATTEMPTS,
    RedeliveryRequired,
    raise_for_retry,
    run_events,
    summarize,
)
from portable._pipeline import Pipeline, Result

from . import ingress

PROVIDER = "aws"
XRAY_ENV = "_X_AMZN_TRACE_ID"  # the invocation's trace, set by Lambda
XRAY_ATTRIBUTE = "AWSTraceHeader"  # an SQS message's trace


class LambdaContext(Protocol):
    """The part of Lambda's context object the entry reads."""

    aws_request_id: str

    def get_remaining_time_in_millis(self) -> int: ...


LambdaFunction = Callable[[Any, LambdaContext | None], dict[str, Any]]


def lambda_handler(handle: App | Handler, **pipeline_options: Any) -> LambdaFunction:
    """The Lambda function for ``handle`` (a function of one CloudEvent, or an App).

    ``pipeline_options``: as :class:`portable.Pipeline` (store, dlq, retry, key, max_attempts,
    ...). Call it at module level, so the pipeline is built once per execution environment.
    """
    pipeline = Pipeline(handle, **pipeline_options)

    def function(event: Any, context: LambdaContext | None) -> dict[str, Any]:
        ctx = _context(event, context)
        if ingress.is_sqs_batch(event):
            return _sqs_batch(pipeline, ingress.items(event), ctx)
        return _invocation(pipeline, ingress.items(event)[0], ctx)

    function.__doc__ = f"Lambda entry for {pipeline.name}."
    return function


def _context(event: Any, context: LambdaContext | None) -> Context:
    if context is None:  # invoked by hand, outside Lambda
        return Context(provider=PROVIDER, raw=event)
    remaining = context.get_remaining_time_in_millis() / 1000
    return _tracing.with_trace(
        Context(provider=PROVIDER, deadline=time.time() + remaining, raw=event,
                correlation_id=context.aws_request_id),
        _tracing.from_xray(os.environ.get(XRAY_ENV)))


def _sqs_batch(pipeline: Pipeline, batch: list[ingress.Item], ctx: Context) -> dict[str, Any]:
    failed: list[ingress.Item] = []
    for item in batch:
        blocked = bool(failed) and item.ordered  # FIFO: nothing may overtake a failed message
        item_ctx = ctx.evolve(attempt=item.attempt, max_attempts=SQS_ATTEMPTS, raw=item.raw)
        if blocked or not _acked(_run(pipeline, item, _tracing.with_trace(
                item_ctx, _tracing.from_xray(_trace_header(item.raw))))):
            failed.append(item)
    if any(item.message_id is None for item in failed):
        raise RedeliveryRequired("an SQS message without a messageId failed; the whole batch "
                              "is returned to the queue")
    return {"batchItemFailures": [{"itemIdentifier": item.message_id} for item in failed]}


def _invocation(pipeline: Pipeline, item: ingress.Item, ctx: Context) -> dict[str, Any]:
    results = _run(pipeline, item, ctx.evolve(attempt=None, max_attempts=LAMBDA_ASYNC_ATTEMPTS))
    raise_for_retry(results)
    return dict(summarize(results))


def _run(pipeline: Pipeline, item: ingress.Item, ctx: Context) -> list[Result]:
    """The item's events through the pipeline, or its raw form into the dead-letter sink."""
    if item.error is not None:
        raw = json.dumps(item.raw, ensure_ascii=False, default=str)
        return [pipeline.dead_letter_raw(raw, item.error, ctx)]
    return run_events(pipeline, item.events, ctx, ordered=item.ordered)


def _trace_header(record: Any) -> Any:
    """The X-Ray trace header SQS keeps with a message (sent by an X-Ray-traced producer)."""
    attributes = record.get("attributes") if isinstance(record, dict) else None
    return attributes.get(XRAY_ATTRIBUTE) if isinstance(attributes, dict) else None


def _acked(results: list[Result]) -> bool:
    return all(result.acked for result in results)
