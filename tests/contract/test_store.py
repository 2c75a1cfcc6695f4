"""The store contract, rule by rule (portable/_store.py): every backend, one conditional write.

Times are injected through ``now``: a record is live while ``expires_at > now``.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from portable import Record, Status
from tests.contract.backends import StoreFactory

KEY = "order-1"
T0 = 1_000_000.0
LEASE = 30.0
TTL = 3600.0


def test_a_new_key_is_claimed_in_progress(store_factory: StoreFactory) -> None:
    record = store_factory().claim(KEY, "a", T0, T0 + LEASE, "hash-1")
    assert record == Record(KEY, Status.IN_PROGRESS, "a", T0 + LEASE, 1, T0, None, "hash-1")


def test_a_live_claim_refuses_the_next_claimer_and_stays_as_it_was(
    store_factory: StoreFactory,
) -> None:
    first = store_factory().claim(KEY, "a", T0, T0 + LEASE, None)
    second = store_factory().claim(KEY, "b", T0 + LEASE - 0.001, T0 + 2 * LEASE, None)
    assert second == first


def test_an_expired_lease_is_taken_over_and_counts_the_delivery(
    store_factory: StoreFactory,
) -> None:
    store_factory().claim(KEY, "dead", T0, T0 + LEASE, "h")
    record = store_factory().claim(KEY, "b", T0 + LEASE, T0 + 2 * LEASE, "h")
    assert record == Record(KEY, Status.IN_PROGRESS, "b", T0 + 2 * LEASE, 2, T0, None, "h")


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.DEAD_LETTERED])
def test_a_live_final_record_is_returned_untouched(
    store_factory: StoreFactory, status: Status
) -> None:
    store = store_factory()
    store.claim(KEY, "a", T0, T0 + LEASE, None)
    assert store.finish(
        KEY, "a", status, T0 + TTL, '{"ok": 1}' if status is Status.COMPLETED else None
    )
    record = store_factory().claim(KEY, "b", T0 + TTL - 1, T0 + TTL + LEASE, None)
    assert (record.status, record.token, record.attempts) == (status, "a", 1)
    assert record.result == ('{"ok": 1}' if status is Status.COMPLETED else None)


def test_a_completed_record_past_its_ttl_starts_afresh(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.claim(KEY, "a", T0, T0 + LEASE, "old")
    store.finish(KEY, "a", Status.COMPLETED, T0 + TTL, '"result"')
    record = store.claim(KEY, "b", T0 + TTL, T0 + TTL + LEASE, "new")
    assert record == Record(
        KEY, Status.IN_PROGRESS, "b", T0 + TTL + LEASE, 1, T0 + TTL, None, "new"
    )


def test_a_released_record_is_claimable_at_once_and_keeps_counting(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    for attempt in (1, 2, 3):
        now = T0 + attempt
        record = store.claim(KEY, f"t{attempt}", now, now + LEASE, None)
        assert (record.token, record.attempts, record.first_seen) == (
            f"t{attempt}",
            attempt,
            T0 + 1,
        )
        assert store.finish(KEY, f"t{attempt}", Status.RELEASED, now + TTL)
    # Past the TTL of the release, the count starts again.
    late = T0 + 3 + TTL
    assert store.claim(KEY, "t4", late, late + LEASE, None).attempts == 1


def test_only_the_token_holder_can_finish(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.claim(KEY, "a", T0, T0 + LEASE, None)
    store.claim(KEY, "b", T0 + LEASE, T0 + 2 * LEASE, None)  # a's lease ran out: b took over
    assert not store.finish(KEY, "a", Status.COMPLETED, T0 + TTL, '"stale"')
    assert not store.finish(KEY, "a", Status.RELEASED, T0 + TTL)
    assert store.finish(KEY, "b", Status.COMPLETED, T0 + TTL, '"fresh"')
    record = store.claim(KEY, "c", T0 + LEASE + 1, T0 + TTL, None)
    assert (record.status, record.token, record.result) == (Status.COMPLETED, "b", '"fresh"')


def test_finishing_an_unknown_key_fails(store_factory: StoreFactory) -> None:
    assert not store_factory().finish("nobody", "a", Status.COMPLETED, T0 + TTL, "1")


def test_forget_deletes_the_record_whoever_holds_it(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.claim(KEY, "a", T0, T0 + LEASE, None)
    store.forget(KEY)
    store.forget("never-seen")
    assert store.claim(KEY, "b", T0 + 1, T0 + LEASE, None).attempts == 1


def test_keys_are_independent(store_factory: StoreFactory) -> None:
    store = store_factory()
    assert store.claim("k1", "a", T0, T0 + LEASE, None).token == "a"
    assert store.claim("k2", "b", T0, T0 + LEASE, None).token == "b"
    assert store.finish("k2", "b", Status.COMPLETED, T0 + TTL, "2")
    assert store.claim("k1", "c", T0 + 1, T0 + LEASE, None).status is Status.IN_PROGRESS


RESULTS = [
    "null",
    '""',
    '"h\\u00e9llo w\\u00f6rld"',
    '"héllo wörld ✓ 日本語 🎉 \\n\\t"',
    '{"nested": {"list": [1, 2.5, null, true, {"deep": ["x"]}]}, "ключ": "значение"}',
    "1267650600228229401496703205376",
    "-0.1",
    "x" * 100_000,
]


@pytest.mark.parametrize("result", RESULTS, ids=range(len(RESULTS)))
def test_a_result_round_trips_exactly(store_factory: StoreFactory, result: str) -> None:
    store = store_factory()
    store.claim(KEY, "a", T0, T0 + LEASE, None)
    store.finish(KEY, "a", Status.COMPLETED, T0 + TTL, result)
    assert store_factory().claim(KEY, "b", T0 + 1, T0 + LEASE, None).result == result


def test_times_round_trip_exactly(store_factory: StoreFactory) -> None:
    now, lease, ttl = 1_767_225_599.123456, 1_767_225_609.987654, 1_767_311_999.000001
    store = store_factory()
    record = store.claim(KEY, "a", now, lease, None)
    assert (record.first_seen, record.expires_at) == (now, lease)
    store.finish(KEY, "a", Status.COMPLETED, ttl, "1")
    again = store_factory().claim(KEY, "b", now + 1, now + 2, None)
    assert (again.first_seen, again.expires_at) == (now, ttl)


def test_slots_hold_small_values_until_they_expire(store_factory: StoreFactory) -> None:
    store, other = store_factory(), store_factory()
    assert store.slot_get("breaker:payments") is None
    store.slot_set("breaker:payments", '{"state": "open"}', ttl=60)
    assert other.slot_get("breaker:payments") == '{"state": "open"}'
    other.slot_set("breaker:payments", '{"state": "closed"}', ttl=60)  # last writer wins
    assert store.slot_get("breaker:payments") == '{"state": "closed"}'
    store.slot_set("breaker:payments", "gone", ttl=0)
    assert other.slot_get("breaker:payments") is None
    store.slot_set("short", "lived", ttl=0.2)
    assert store.slot_get("short") == "lived"
    time.sleep(0.25)
    assert store.slot_get("short") is None


def test_slots_and_records_do_not_share_names(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.slot_set(KEY, "slot value", ttl=60)
    assert store.claim(KEY, "a", T0, T0 + LEASE, None).attempts == 1
    assert store.slot_get(KEY) == "slot value"


THREADS = 16


def race(store_factory: StoreFactory, now: float) -> list[Record]:
    store = store_factory()
    ready = threading.Barrier(THREADS)

    def claim(i: int) -> Record:
        ready.wait(timeout=30)
        return store.claim(KEY, f"thread-{i}", now, now + LEASE, None)

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(claim, range(THREADS)))


def test_sixteen_threads_claiming_a_new_key_have_one_winner(store_factory: StoreFactory) -> None:
    records = race(store_factory, T0)
    winners = {record.token for record in records}
    assert len(winners) == 1
    assert all(record.attempts == 1 and record.status is Status.IN_PROGRESS for record in records)


def test_sixteen_threads_taking_over_an_expired_lease_have_one_winner(
    store_factory: StoreFactory,
) -> None:
    store_factory().claim(KEY, "dead", T0, T0 + LEASE, None)
    records = race(store_factory, T0 + LEASE)
    assert len({record.token for record in records}) == 1
    assert "dead" not in {record.token for record in records}
    assert all(record.attempts == 2 for record in records)
