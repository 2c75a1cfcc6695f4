"""The pipeline every entry runs for each CloudEvent of a delivery (DESIGN.md, "The pipeline"):

1. claim the event in the idempotency store (a completed claim returns its stored result, a
   dead-lettered one is acked, a live claim fails this delivery as retryable);
2. call the handler under the retry policy, within the platform's deadline;
3. on success complete the claim; on failure release it, then dead-letter (permanent error, or
   the platform's last attempt) or fail the delivery so the platform redelivers;
4. if the dead letter cannot be written, the delivery fails: nothing is acked that is not stored.

The pipeline never raises for an event's failure: it returns a :class:`Result` and each entry
maps it to what its platform understands (raise, ``batchItemFailures``, an HTTP status).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import time
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

from cloudevents.http import CloudEvent

from . import _context, _events, _tracing
from ._app import App, Handler, KeyFunction, as_app
from ._config import check_cloud_settings, sink_from, store_from
from ._errors import (
    CircuitOpenError,
    ConfigurationError,
    EventInProgress,
    IdempotencyKeyReused,
    PortableError,
    SinkUnavailable,
    StoreUnavailable,
)
from ._logging import configure, log
from ._retry import RetryPolicy, policy_from
from ._store import Record, Status, Store

if TYPE_CHECKING:
    from ._deadletter import Sink

DEFAULT_TTL = 24 * 3600.0
"""How long a completed or dead-lettered claim is remembered: Event Grid retries for up to
24 h and Lambda async for up to 6 h; raise it for SQS/Pub/Sub retention beyond a day."""
DEFAULT_LEASE = 300.0
"""Lease used when the platform gives no remaining time (never a lease without end)."""
LEASE_MARGIN = 10.0


class Outcome(StrEnum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"  # completed before: the stored result, handler not called
    SKIPPED = "skipped"  # dead-lettered before: acked without running
    RETRY = "retry"  # fail this delivery: the platform must redeliver
    DEAD_LETTERED = "dead_lettered"  # stored in the sink and acked


class Result(NamedTuple):
    outcome: Outcome
    event_id: str | None
    attempt: int | None = None
    value: Any = None
    error: BaseException | None = None

    @property
    def acked(self) -> bool:
        return self.outcome is not Outcome.RETRY


class _Tokens:
    """Claim tokens, unique across processes and machines: a random 64-bit prefix per process
    (drawn again in a forked child) and a counter. One ``os.urandom`` per process instead of
    one per event: each is a system call that lets go of the GIL, and a threaded server's
    threads queue to take it back."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.counter):016x}"


_claim_token = _Tokens()


def default_key(event: CloudEvent) -> str:
    return f"{event.get('source')}\x1f{event.get('id')}"


class Pipeline:
    """Runs one handler (or App) for CloudEvents with idempotency, retry and dead letters.

    ``store`` / ``dlq``: a URL or an instance; default from PORTABLE_STORE / PORTABLE_DLQ, else
    local SQLite files. ``retry``: a RetryPolicy or a number of in-process attempts.
    ``key``: the idempotency key of an event (default ``source`` + ``id``), namespaced by the
    handler's name so that two functions fed the same event both run. ``max_attempts``: the
    number of platform deliveries after which the framework dead-letters; default: what the
    entry says of its platform. ``validate_payload``: refuse a known key whose data changed.
    """

    def __init__(self, target: App | Handler, **overrides: Any) -> None:
        self.app = as_app(target)
        options = {**self.app.options, **overrides}
        self.name: str = options.pop("name", None) or self.app.display_name
        self._store_spec: str | Store | None = options.pop("store", None)
        self._sink_spec: str | Sink | None = options.pop("dlq", None)
        self.retry: RetryPolicy = policy_from(options.pop("retry", None))
        self.key_fn: KeyFunction = options.pop("key", None) or default_key
        self.max_attempts: int | None = options.pop("max_attempts", None)
        self.validate_payload: bool = options.pop("validate_payload", False)
        self.ttl: float = options.pop("ttl", DEFAULT_TTL)
        self.clock: Callable[[], float] = options.pop("clock", time.time)
        if options:
            raise TypeError(f"unknown pipeline option(s): {', '.join(sorted(options))}")
        check_cloud_settings(self._store_spec, self._sink_spec)
        self._store: Store | None = None
        self._sink: Sink | None = None
        configure()

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = store_from(self._store_spec)
        return self._store

    @property
    def sink(self) -> Sink:
        if self._sink is None:
            self._sink = sink_from(self._sink_spec)
        return self._sink

    def key_for(self, event: CloudEvent) -> str:
        raw = f"{self.name}\x1e{self.key_fn(event)}"
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()

    # -- the per-event path -------------------------------------------------------------

    def process(
        self, event: CloudEvent, ctx: _context.Context | None = None, *, replay: bool = False
    ) -> Result:
        """Run the pipeline for one event. ``replay`` forgets the key first and never writes a
        new dead letter (``portable dlq replay`` keeps the old one on failure)."""
        ctx = ctx or _context.Context()
        started = self.clock()
        event_id = event.get("id")
        try:
            key = self.key_for(event)
            if replay:
                self.store.forget(key)
            token = _claim_token()
            record = self.store.claim(
                key, token, started, self._lease_until(ctx, started), self._payload_hash(event)
            )
        except ConfigurationError:
            raise  # a deployment mistake: fail loudly, not one event at a time
        except PortableError as exc:
            return self._fail_fast(event, ctx, exc)
        except Exception as exc:  # noqa: BLE001 - any backend failure
            return self._fail_fast(event, ctx, StoreUnavailable(f"idempotency store failed: {exc}"))

        if record.token != token:
            return self._not_ours(event, ctx, record)

        attempt = ctx.attempt if ctx.attempt is not None else record.attempts
        if ctx.attempt != attempt:
            ctx = ctx.evolve(attempt=attempt)
        activation = _context.activate(ctx)
        try:
            with _tracing.handling(event, ctx, self.name):
                value = self.retry.call(lambda: self._call(event, ctx), ctx.deadline)
        except Exception as exc:  # noqa: BLE001 - classified by the policy
            return self._failed(event, ctx, key, token, record, exc, replay)
        finally:
            _context.deactivate(activation)
        self._complete(event, ctx, key, token, value)
        self._log(
            logging.INFO,
            "processed",
            event,
            ctx,
            Outcome.PROCESSED,
            duration_ms=round((self.clock() - started) * 1000, 3),
        )
        return Result(Outcome.PROCESSED, event_id, attempt, value)

    def _call(self, event: CloudEvent, ctx: _context.Context) -> Any:
        """One call of the handler; published ids restart, so a retry publishes the same."""
        ctx.begin(event, self.name)
        return self.app(event)

    def dead_letter_raw(
        self, raw: bytes | str | None, error: BaseException, ctx: _context.Context | None = None
    ) -> Result:
        """Store a delivery that is not a valid CloudEvent (bad input) and ack it.

        For entries that the platform redelivers on any non-2xx: answering 4xx there would
        loop or drop the event. Returns RETRY only if the sink cannot write.
        """
        from ._deadletter import DeadLetter  # only dead letters pay for the module

        ctx = ctx or _context.Context()
        letter = DeadLetter.build(
            error,
            retryable=False,
            raw=raw,
            attempts=ctx.attempt or 1,
            handler=self.name,
            provider=ctx.provider,
        )
        try:
            self.sink.put(letter)
        except Exception as exc:  # noqa: BLE001
            log(
                logging.ERROR,
                "dead-letter sink failed; delivery not acknowledged",
                provider=ctx.provider,
                correlation_id=ctx.correlation_id,
                error=str(exc),
            )
            return Result(Outcome.RETRY, None, ctx.attempt, error=SinkUnavailable(str(exc)))
        log(
            logging.WARNING,
            "bad input dead-lettered",
            provider=ctx.provider,
            correlation_id=ctx.correlation_id,
            error=str(error),
            error_type=type(error).__name__,
            outcome=Outcome.DEAD_LETTERED.value,
        )
        return Result(Outcome.DEAD_LETTERED, None, ctx.attempt, error=error)

    # -- helpers ------------------------------------------------------------------------

    def _lease_until(self, ctx: _context.Context, now: float) -> float:
        remaining = ctx.remaining(now)
        lease = remaining if remaining is not None and remaining > 0 else DEFAULT_LEASE
        return now + lease + LEASE_MARGIN

    def _payload_hash(self, event: CloudEvent) -> str | None:
        if not self.validate_payload:
            return None
        data = _events.encode_data(event.get_data(), event.get("datacontenttype")) or b""
        return hashlib.sha256(data).hexdigest()

    def _not_ours(self, event: CloudEvent, ctx: _context.Context, record: Record) -> Result:
        mine = self._payload_hash(event)
        if mine and record.payload_hash and mine != record.payload_hash:
            error = IdempotencyKeyReused(
                f"event {event.get('id')!r} reuses an idempotency key with a different payload"
            )
            return self._dead_letter(event, ctx, None, None, error, record)
        if record.status is Status.COMPLETED:
            value = None if record.result is None else json.loads(record.result)
            self._log(
                logging.INFO, "duplicate: returned the stored result", event, ctx, Outcome.DUPLICATE
            )
            return Result(Outcome.DUPLICATE, event.get("id"), ctx.attempt, value)
        if record.status is Status.DEAD_LETTERED:
            self._log(
                logging.INFO, "already dead-lettered: acknowledged", event, ctx, Outcome.SKIPPED
            )
            return Result(Outcome.SKIPPED, event.get("id"), ctx.attempt)
        return self._fail_fast(
            event,
            ctx,
            EventInProgress(f"event {event.get('id')!r} is being processed by another worker"),
        )

    def _complete(
        self, event: CloudEvent, ctx: _context.Context, key: str, token: str, value: Any
    ) -> None:
        try:  # ASCII, so a lone surrogate cannot break the store; None needs no encoder
            text = "null" if value is None else json.dumps(value)
        except (TypeError, ValueError):
            self._log(
                logging.WARNING,
                "handler result is not JSON-serializable; stored as null",
                event,
                ctx,
                None,
            )
            text = "null"
        try:
            if not self.store.finish(key, token, Status.COMPLETED, self.clock() + self.ttl, text):
                self._log(
                    logging.WARNING,
                    "lease expired before completion; another worker took the event over",
                    event,
                    ctx,
                    None,
                )
        except Exception as exc:  # noqa: BLE001 - the work is done; do not make it run twice
            self._log(logging.ERROR, f"could not record completion: {exc}", event, ctx, None)

    def _failed(
        self,
        event: CloudEvent,
        ctx: _context.Context,
        key: str,
        token: str,
        record: Record,
        exc: Exception,
        replay: bool,
    ) -> Result:
        transient = self.retry.is_transient(exc)
        limit = self.max_attempts if self.max_attempts is not None else ctx.max_attempts
        last = limit is not None and (ctx.attempt or 1) >= limit
        if replay or isinstance(exc, CircuitOpenError) or (transient and not last):
            self._release(key, token)
            self._log(
                logging.WARNING,
                "failed; the platform will redeliver",
                event,
                ctx,
                Outcome.RETRY,
                exc,
            )
            return Result(Outcome.RETRY, event.get("id"), ctx.attempt, error=exc)
        return self._dead_letter(event, ctx, key, token, exc, record, transient)

    def _dead_letter(
        self,
        event: CloudEvent,
        ctx: _context.Context,
        key: str | None,
        token: str | None,
        exc: BaseException,
        record: Record,
        transient: bool = False,
    ) -> Result:
        from ._deadletter import DeadLetter

        letter = DeadLetter.build(
            exc,
            retryable=transient,
            event=event,
            attempts=ctx.attempt or record.attempts,
            first_failure=record.first_seen,
            handler=self.name,
            provider=ctx.provider,
            key=key,
        )
        try:
            self.sink.put(letter)
        except Exception as sink_exc:  # noqa: BLE001
            if key and token:
                self._release(key, token)
            error = SinkUnavailable(f"dead-letter sink failed: {sink_exc}")
            self._log(
                logging.ERROR,
                "could not write dead letter; delivery not acknowledged",
                event,
                ctx,
                Outcome.RETRY,
                error,
            )
            return Result(Outcome.RETRY, event.get("id"), ctx.attempt, error=error)
        if key and token:
            # The letter is stored; should this write fail, the lease simply expires.
            with contextlib.suppress(Exception):
                self.store.finish(key, token, Status.DEAD_LETTERED, self.clock() + self.ttl)
        self._log(
            logging.ERROR, f"dead-lettered ({letter.id})", event, ctx, Outcome.DEAD_LETTERED, exc
        )
        return Result(Outcome.DEAD_LETTERED, event.get("id"), ctx.attempt, error=exc)

    def _release(self, key: str, token: str) -> None:
        with contextlib.suppress(Exception):  # the lease expires by itself
            self.store.finish(key, token, Status.RELEASED, self.clock() + self.ttl)

    def _fail_fast(self, event: CloudEvent, ctx: _context.Context, exc: PortableError) -> Result:
        self._log(
            logging.WARNING, "not run; the platform will redeliver", event, ctx, Outcome.RETRY, exc
        )
        return Result(Outcome.RETRY, event.get("id"), ctx.attempt, error=exc)

    def _log(
        self,
        level: int,
        message: str,
        event: CloudEvent,
        ctx: _context.Context,
        outcome: Outcome | None,
        exc: BaseException | None = None,
        **fields: Any,
    ) -> None:
        log(
            level,
            message,
            event_id=event.get("id"),
            event_type=event.get("type"),
            source=event.get("source"),
            subject=event.get("subject"),
            correlation_id=ctx.correlation_id,
            attempt=ctx.attempt,
            provider=ctx.provider,
            handler=self.name,
            outcome=None if outcome is None else outcome.value,
            error=None if exc is None else str(exc),
            error_type=None if exc is None else type(exc).__name__,
            **fields,
        )

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        if self._sink is not None:
            self._sink.close()
