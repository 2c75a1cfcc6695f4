"""The idempotency store seam: one record per event key, changed only by conditional writes.

A backend implements five small methods (like httpx's transport, one seam, many backends).
The state machine lives in the record and in :meth:`Store.claim`'s single conditional write:

    (absent | RELEASED | expired) --claim--> IN_PROGRESS
    IN_PROGRESS --finish--> COMPLETED | DEAD_LETTERED | RELEASED

* ``expires_at`` is the lease end of an IN_PROGRESS record and the TTL end of the others.
  "Expired" is derived from it inside the write, never left to a backend's TTL sweeper.
* ``attempts`` counts the claims taken on the key since the record was fresh: it is the delivery
  counter for platforms that do not number their deliveries. A takeover of an expired lease
  counts (the worker died mid-attempt); a claim on an expired COMPLETED record starts at 1.
* ``token`` fences the owner: only the claimer holding it can finish the record.

The shared contract suite in tests/contract checks every backend against these rules.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from enum import StrEnum
from typing import NamedTuple


class Status(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    DEAD_LETTERED = "DEAD_LETTERED"
    RELEASED = "RELEASED"


class Record(NamedTuple):
    key: str
    status: Status
    token: str
    expires_at: float
    attempts: int
    first_seen: float
    result: str | None = None  # the handler's result as JSON text
    payload_hash: str | None = None


def next_record(
    current: Record | None,
    key: str,
    token: str,
    now: float,
    lease_until: float,
    payload_hash: str | None,
) -> Record | None:
    """The claim rule, shared by backends that read-then-conditionally-write.

    Returns the record a claim writes over ``current``, or None when ``current`` is live and
    must be left alone. Backends that can express the rule in the write itself (SQL, Lua,
    DynamoDB conditions) implement the same table there.
    """
    if current is None:
        return Record(key, Status.IN_PROGRESS, token, lease_until, 1, now, None, payload_hash)
    live = current.expires_at > now
    if live and current.status != Status.RELEASED:
        return None
    # A released record still within its TTL, or an expired lease (the worker died), keeps
    # counting deliveries; a record past its TTL starts afresh.
    carry = live or current.status == Status.IN_PROGRESS
    return Record(
        key=key,
        status=Status.IN_PROGRESS,
        token=token,
        expires_at=lease_until,
        attempts=current.attempts + 1 if carry else 1,
        first_seen=current.first_seen if carry else now,
        payload_hash=payload_hash,
    )


class Store(ABC):
    """What the pipeline needs from an idempotency backend."""

    @abstractmethod
    def claim(
        self, key: str, token: str, now: float, lease_until: float, payload_hash: str | None
    ) -> Record:
        """One atomic conditional write: take the key unless a live record holds it.

        Apply :func:`next_record`. Return the record as it stands after the write; the caller
        won when ``record.token == token``.
        """

    @abstractmethod
    def finish(
        self, key: str, token: str, status: Status, expires_at: float, result: str | None = None
    ) -> bool:
        """Set the status of a record this token holds; False if the token lost it."""

    @abstractmethod
    def forget(self, key: str) -> None:
        """Delete the record whoever holds it (replay, tests)."""

    @abstractmethod
    def slot_get(self, name: str) -> str | None:
        """A small shared value (circuit breaker state), None when absent or expired."""

    @abstractmethod
    def slot_set(self, name: str, value: str, ttl: float) -> None:
        """Write a small shared value that expires after ``ttl`` seconds (last writer wins)."""

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release connections; the store is not used afterwards."""


class MemoryStore(Store):
    """In-process store (``memory://``): the reference implementation and the unit-test fake.

    It deduplicates only within one process; use it to opt out of persistence on purpose.
    """

    def __init__(self) -> None:
        self._records: dict[str, Record] = {}
        self._slots: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def claim(
        self, key: str, token: str, now: float, lease_until: float, payload_hash: str | None
    ) -> Record:
        with self._lock:
            current = self._records.get(key)
            new = next_record(current, key, token, now, lease_until, payload_hash)
            if new is None:
                assert current is not None
                return current
            self._records[key] = new
            return new

    def finish(
        self, key: str, token: str, status: Status, expires_at: float, result: str | None = None
    ) -> bool:
        with self._lock:
            current = self._records.get(key)
            if current is None or current.token != token:
                return False
            self._records[key] = Record(  # not dataclasses.replace: 3x slower, every event
                key, status, token, expires_at, current.attempts, current.first_seen, result,
                current.payload_hash
            )
            return True

    def forget(self, key: str) -> None:
        with self._lock:
            self._records.pop(key, None)

    def slot_get(self, name: str) -> str | None:
        with self._lock:
            item = self._slots.get(name)
        if item is None or item[1] <= time.time():
            return None
        return item[0]

    def slot_set(self, name: str, value: str, ttl: float) -> None:
        with self._lock:
            self._slots[name] = (value, time.time() + ttl)
