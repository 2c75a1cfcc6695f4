"""The idempotency layer as a handler sees it, through the pipeline, on every backend.

Two pipelines on two clients of one store are two instances of a function.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from cloudevents.http import CloudEvent

from portable import (
    Context,
    EventInProgress,
    IdempotencyKeyReused,
    MemorySink,
    Outcome,
    PermanentError,
    Record,
)
from portable._pipeline import DEFAULT_LEASE, LEASE_MARGIN
from tests.contract.backends import StoreFactory
from tests.contract.support import RACE_OUTCOMES, Calls, Clock, describe, event


def test_a_new_event_runs_the_handler_once(store_factory: StoreFactory) -> None:
    calls = Calls({"total": 42})
    result = store_factory.pipeline(calls).process(event())
    assert (result.outcome, result.value, result.attempt) == (Outcome.PROCESSED, {"total": 42}, 1)
    assert calls.ids == ["evt-1"]


def test_a_completed_event_returns_the_stored_result_without_running(
    store_factory: StoreFactory,
) -> None:
    first, second = Calls({"total": 42}), Calls("never")
    store_factory.pipeline(first).process(event())
    result = store_factory.pipeline(second).process(event())
    assert (result.outcome, result.value, result.acked) == (Outcome.DUPLICATE, {"total": 42}, True)
    assert second.count == 0


def test_two_functions_fed_the_same_event_both_run(store_factory: StoreFactory) -> None:
    billing, shipping = Calls(), Calls()
    store_factory.pipeline(billing, name="billing").process(event())
    result = store_factory.pipeline(shipping, name="shipping").process(event())
    assert result.outcome is Outcome.PROCESSED
    assert (billing.count, shipping.count) == (1, 1)


def test_a_dead_lettered_event_is_acked_without_running(store_factory: StoreFactory) -> None:
    sink = MemorySink()
    calls = Calls("x", PermanentError("bad order"))
    pipeline = store_factory.pipeline(calls, dlq=sink)
    assert pipeline.process(event()).outcome is Outcome.DEAD_LETTERED
    again = store_factory.pipeline(calls, dlq=sink).process(event())
    assert (again.outcome, again.acked) == (Outcome.SKIPPED, True)
    assert calls.count == 1
    assert len(sink.list()) == 1


def test_an_event_in_progress_elsewhere_fails_this_delivery_as_retryable(
    store_factory: StoreFactory,
) -> None:
    other = Calls("never")
    seen: list[Any] = []

    def handler(ev: CloudEvent) -> str:
        seen.append(store_factory.pipeline(other).process(ev))  # a redelivery meanwhile
        return "done"

    assert store_factory.pipeline(handler).process(event()).outcome is Outcome.PROCESSED
    (concurrent,) = seen
    assert (concurrent.outcome, concurrent.acked) == (Outcome.RETRY, False)
    assert isinstance(concurrent.error, EventInProgress)
    assert other.count == 0


def probe(store_factory: StoreFactory, key: str, now: float) -> Record:
    """What a concurrent claimer finds (a live record is returned untouched)."""
    return store_factory().claim(key, "probe", now, now + 1, None)


@pytest.mark.parametrize(
    ("deadline_in", "lease"),
    [
        (30.0, 30.0 + LEASE_MARGIN),
        (0.0, DEFAULT_LEASE + LEASE_MARGIN),
        (-5.0, DEFAULT_LEASE + LEASE_MARGIN),
        (None, DEFAULT_LEASE + LEASE_MARGIN),
    ],
    ids=["remaining-30s", "remaining-zero", "deadline-passed", "no-deadline"],
)
def test_the_lease_is_the_time_left_plus_a_margin_and_always_ends(
    store_factory: StoreFactory, deadline_in: float | None, lease: float
) -> None:
    clock = Clock()
    found: list[Record] = []

    def handler(ev: CloudEvent) -> None:
        key = pipeline.key_for(ev)
        found.append(probe(store_factory, key, clock.now + lease - 0.001))
        found.append(probe(store_factory, key, clock.now + lease))

    pipeline = store_factory.pipeline(handler, clock=clock)
    deadline = None if deadline_in is None else clock.now + deadline_in
    pipeline.process(event(), Context(deadline=deadline))
    live, expired = found
    assert live.token != "probe" and live.expires_at == clock.now + lease
    assert math.isfinite(live.expires_at)
    assert expired.token == "probe"  # the lease ended: a new claimer took the event


def test_an_expired_claim_of_a_dead_worker_is_taken_over(store_factory: StoreFactory) -> None:
    clock = Clock()
    store_factory().claim(
        store_factory.pipeline(Calls()).key_for(event()),
        "dead-worker",
        clock.now,
        clock.now + 60,
        None,
    )
    calls = Calls()
    refused = store_factory.pipeline(calls, clock=clock).process(event())
    assert isinstance(refused.error, EventInProgress)
    clock.now += 60
    result = store_factory.pipeline(calls, clock=clock).process(event())
    assert (result.outcome, result.attempt, calls.count) == (Outcome.PROCESSED, 2, 1)


def test_a_completed_event_is_forgotten_after_its_ttl(store_factory: StoreFactory) -> None:
    clock, calls = Clock(), Calls()
    pipeline = store_factory.pipeline(calls, clock=clock, ttl=60)
    pipeline.process(event())
    clock.now += 59.9
    assert pipeline.process(event()).outcome is Outcome.DUPLICATE
    clock.now += 0.1
    fresh = pipeline.process(event())
    assert (fresh.outcome, fresh.attempt, calls.count) == (Outcome.PROCESSED, 1, 2)


def test_the_same_key_with_another_payload_is_an_error_the_user_sees(
    store_factory: StoreFactory,
) -> None:
    sink, calls = MemorySink(), Calls({"charged": 10})
    pipeline = store_factory.pipeline(calls, validate_payload=True, dlq=sink)
    pipeline.process(event(data={"amount": 10}))
    reused = pipeline.process(event(data={"amount": 99}))
    assert (reused.outcome, reused.acked) == (Outcome.DEAD_LETTERED, True)
    assert isinstance(reused.error, IdempotencyKeyReused)
    (letter,) = sink.list()
    assert letter.error["type"].endswith("IdempotencyKeyReused")
    assert letter.event is not None and letter.event["data"] == {"amount": 99}
    # The original is intact: its redelivery still gets the stored result.
    same = pipeline.process(event(data={"amount": 10}))
    assert (same.outcome, same.value, calls.count) == (Outcome.DUPLICATE, {"charged": 10}, 1)


def test_without_validation_a_changed_payload_is_a_duplicate(store_factory: StoreFactory) -> None:
    calls = Calls()
    pipeline = store_factory.pipeline(calls)
    pipeline.process(event(data={"amount": 10}))
    assert pipeline.process(event(data={"amount": 99})).outcome is Outcome.DUPLICATE
    assert calls.count == 1


def test_a_key_taken_from_data_fields(store_factory: StoreFactory) -> None:
    calls = Calls()
    pipeline = store_factory.pipeline(calls, key=lambda ev: f"order:{ev.data['order']}")
    first = pipeline.process(event("a", {"order": 7, "retry_of": None}))
    resent = pipeline.process(event("b", {"order": 7, "retry_of": "a"}))  # new id, same order
    other = pipeline.process(event("c", {"order": 8}))
    assert [r.outcome for r in (first, resent, other)] == [
        Outcome.PROCESSED,
        Outcome.DUPLICATE,
        Outcome.PROCESSED,
    ]
    assert calls.ids == ["a", "c"]


def test_the_store_counts_deliveries_where_the_platform_does_not(
    store_factory: StoreFactory,
) -> None:
    sink = MemorySink()
    calls = Calls("ok", *(RuntimeError(f"flaky {n}") for n in range(3)))
    results = [
        store_factory.pipeline(calls, max_attempts=3, dlq=sink).process(event(), Context())
        for _ in range(4)
    ]
    assert [r.outcome for r in results] == [
        Outcome.RETRY,
        Outcome.RETRY,
        Outcome.DEAD_LETTERED,
        Outcome.SKIPPED,
    ]
    assert [r.attempt for r in results[:3]] == [1, 2, 3]
    assert calls.attempts == [1, 2, 3]
    assert sink.list()[0].attempts == 3


def test_the_platform_attempt_number_wins_over_the_count(store_factory: StoreFactory) -> None:
    calls = Calls("ok", RuntimeError("flaky"))
    pipeline = store_factory.pipeline(calls)
    pipeline.process(event(), Context(attempt=4))
    pipeline.process(event(), Context(attempt=5))
    assert calls.attempts == [4, 5]


VALUES: list[Any] = [
    None,
    "",
    "héllo wörld ✓ 日本語 🎉",
    {"nested": {"list": [1, 2.5, None, True, {"deep": ["x"]}]}, "ключ": "значение"},
    2**100,
    -(2**70),
    0.1,
    [],
    {},
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_the_stored_result_round_trips(store_factory: StoreFactory, value: Any) -> None:
    assert store_factory.pipeline(Calls(value)).process(event()).value == value
    duplicate = store_factory.pipeline(Calls("never")).process(event())
    assert duplicate.outcome is Outcome.DUPLICATE
    assert duplicate.value == value and type(duplicate.value) is type(value)


def test_sixteen_threads_delivering_one_event_run_it_once(store_factory: StoreFactory) -> None:
    ready, calls = threading.Barrier(16), Calls()
    pipeline = store_factory.pipeline(calls)

    def deliver(_: int) -> str:
        ready.wait(timeout=30)
        return describe(pipeline.process(event()))

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(deliver, range(16)))
    assert calls.count == 1
    assert outcomes.count("processed") == 1
    assert set(outcomes) <= RACE_OUTCOMES


def test_a_failed_attempt_releases_the_claim_for_an_immediate_redelivery(
    store_factory: StoreFactory,
) -> None:
    clock, calls = Clock(), Calls("second time lucky", RuntimeError("flaky"))
    pipeline = store_factory.pipeline(calls, clock=clock)
    assert pipeline.process(event()).outcome is Outcome.RETRY
    again = store_factory.pipeline(calls, clock=clock).process(event())  # same instant
    assert (again.outcome, again.attempt, again.value) == (
        Outcome.PROCESSED,
        2,
        "second time lucky",
    )
