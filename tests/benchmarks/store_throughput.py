"""Claim + complete throughput of each idempotency store, one client, one thread.

    python -m tests.benchmarks.store_throughput [--pairs N] [--rounds R]

One pair is what the pipeline writes for an event handled once: ``claim`` on a new key, then
``finish(COMPLETED)`` with a small JSON result. Each store is measured ``rounds`` times on fresh
keys; the table shows the best round (the least disturbed by other load on the machine) and
the median. redis runs against a redis-server of its own on a free port (skipped, with a note,
when redis-server is not installed); its peer is the floor of this machine's loopback: two
PINGs per pair on the store's own connection (a pair is two round trips whatever the store
does, so the ratio is the share of that floor the scripts and the client leave).
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from portable import MemoryStore, Status, Store
from portable._redis import RedisStore
from portable._sqlite import SQLiteStore
from tests.benchmarks._table import Row, Target, run_alone, skipped
from tests.contract.backends import REDIS_HINT, RedisServer

TARGETS = {"sqlite": 3000.0, "redis": 5000.0}
"""pairs/s wanted on the 2-core reference machine (issue 3)."""
LEASE = 300.0
TTL = 86400.0
RESULT = '{"status": "done", "items": 3}'


def pairs_per_second(store: Store, pairs: int) -> float:
    keys = [uuid.uuid4().hex for _ in range(pairs)]
    started = time.perf_counter()
    for key in keys:
        now = time.time()
        store.claim(key, key, now, now + LEASE, None)
        store.finish(key, key, Status.COMPLETED, now + TTL, RESULT)
    return pairs / (time.perf_counter() - started)


def ping_pairs_per_second(store: Store, pairs: int) -> float:
    """Two PINGs per pair on the Redis store's connection: the round-trip floor."""
    assert isinstance(store, RedisStore)
    started = time.perf_counter()
    for _ in range(pairs):
        store._command("PING")
        store._command("PING")
    return pairs / (time.perf_counter() - started)


@contextmanager
def memory() -> Iterator[Store]:
    yield MemoryStore()


@contextmanager
def sqlite() -> Iterator[Store]:
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            yield store
        finally:
            store.close()


@contextmanager
def redis() -> Iterator[Store]:
    binary = RedisServer.binary_path()
    if binary is None:
        raise LookupError(f"redis-server is not installed ({REDIS_HINT})")
    server = RedisServer(binary)
    server.up()
    try:
        store = RedisStore(f"{server.url}?prefix=bench:")
        yield store
        store.close()
    finally:
        server.down()


STORES: dict[str, Callable[[], AbstractContextManager[Store]]] = {
    "memory": memory,
    "sqlite": sqlite,
    "redis": redis,
}
FLOORS: dict[str, Callable[[Store, int], float]] = {"redis": ping_pairs_per_second}
"""The peer of a store whose speed the machine bounds."""


def measure(name: str, pairs: int, rounds: int) -> tuple[list[float], float | None] | str:
    """The rate of each round and the best round of the floor (if any), or why the store was
    skipped. Rounds alternate between the store and its floor."""
    floor = FLOORS.get(name)
    try:
        with STORES[name]() as store:
            pairs_per_second(store, min(pairs, 500))  # warm up: connections, scripts, caches
            rates, floors = [], []
            for _ in range(rounds):
                rates.append(pairs_per_second(store, pairs))
                if floor is not None:
                    floors.append(floor(store, pairs))
            return rates, max(floors, default=None)
    except LookupError as exc:
        return str(exc)


def rows(quick: bool = False, pairs: int = 5000, rounds: int = 5) -> list[Row]:
    """The best round of each store, for the one table of ``python -m tests.benchmarks``."""
    pairs, rounds = (20, 1) if quick else (pairs, rounds)
    out = []
    for name in STORES:
        case = f"store: claim+complete pairs, {name}"
        measured = measure(name, pairs, rounds)
        if isinstance(measured, str):
            out.append(skipped(case, measured))
            continue
        rates, floor = measured
        target = TARGETS.get(name)
        note = f"median {statistics.median(rates):,.0f}"
        out.append(Row(case, max(rates), "pairs/s", peer=floor,
                       target=None if target is None else Target(target, at_least=True),
                       note=note if floor is None else f"{note}; peer: 2 PINGs per pair"))
    return out


if __name__ == "__main__":
    run_alone(rows, "claim+complete throughput of each store")
