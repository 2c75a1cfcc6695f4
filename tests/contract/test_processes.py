"""Several function instances on one store: a race of processes, and a worker killed mid-event.

Only for backends that several processes can share (not memory://). Children are spawned, so
each opens the store from its URL as a separate instance would.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from portable import EventInProgress, Outcome, Status
from tests.contract import support
from tests.contract.backends import StoreFactory
from tests.contract.support import RACE_OUTCOMES, Calls, Clock, event

pytestmark = pytest.mark.needs("processes")

SPAWN = multiprocessing.get_context("spawn")
PROCESSES = 4
THREADS = 4
LEASE = 2.0


def test_four_processes_racing_for_one_event_run_it_once(
    store_factory: StoreFactory, tmp_path: Path
) -> None:
    runs = tmp_path / "runs.log"
    start, results = SPAWN.Barrier(PROCESSES), SPAWN.Queue()
    workers = [
        SPAWN.Process(
            target=support.race, args=(store_factory.url, str(runs), THREADS, start, results)
        )
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    try:
        outcomes = [outcome for _ in workers for outcome in results.get(timeout=60)]
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                kill(worker)
    assert len(runs.read_text().split()) == 1
    assert len(outcomes) == PROCESSES * THREADS
    assert outcomes.count("processed") == 1
    assert set(outcomes) <= RACE_OUTCOMES


@pytest.mark.needs("fork_safe")
def test_a_store_opened_before_a_fork_serves_the_children_and_the_parent(
    store_factory: StoreFactory,
) -> None:
    """Forking servers (gunicorn --preload) hand the parent's open store to each worker."""
    fork = multiprocessing.get_context("fork")
    store = store_factory()
    store.claim("before-fork", "parent", 1000.0, 2000.0, None)  # connections are open now
    start, results = fork.Barrier(PROCESSES), fork.Queue()
    workers = [
        fork.Process(target=support.claim_once, args=(store, "k", start, results))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    try:
        wins = [results.get(timeout=20) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                kill(worker)
    assert all(own for own, _ in wins), "a child got another's answer"
    assert [shared for _, shared in wins].count(True) == 1
    assert all(worker.exitcode == 0 for worker in workers)
    assert store.claim("before-fork", "again", 1000.5, 2000.0, None).token == "parent"
    assert store.claim("after-fork", "parent", 1000.0, 2000.0, None).token == "parent"


def kill(process: multiprocessing.process.BaseProcess) -> None:
    assert process.pid is not None
    os.kill(process.pid, signal.SIGKILL)
    process.join(timeout=30)


def test_a_killed_workers_lease_is_taken_over_after_it_expires_and_not_before(
    store_factory: StoreFactory,
) -> None:
    claimed, expiry = SPAWN.Event(), SPAWN.Queue()
    worker = SPAWN.Process(
        target=support.claim_and_hang, args=(store_factory.url, "k", LEASE, claimed, expiry)
    )
    worker.start()
    try:
        assert claimed.wait(timeout=60), "the worker did not claim"
        expires_at = expiry.get(timeout=10)
    finally:
        kill(worker)
    store, refusals = store_factory(), 0
    while True:
        now = time.time()
        record = store.claim("k", "second", now, now + 60, None)
        if record.token == "second":
            break
        assert now < expires_at, "refused after the lease expired"
        assert (record.status, record.token) == (Status.IN_PROGRESS, "crashed-worker")
        refusals += 1
        time.sleep(0.05)
    assert refusals > 0, "never saw the live lease: the machine was too slow for this test"
    assert now >= expires_at, "taken over before the lease expired"
    assert record.attempts == 2


def test_an_event_whose_worker_was_killed_is_processed_once_its_lease_ends(
    store_factory: StoreFactory,
) -> None:
    running = SPAWN.Event()
    worker = SPAWN.Process(target=support.handle_and_hang, args=(store_factory.url, running))
    worker.start()
    try:
        assert running.wait(timeout=60), "the worker did not start the handler"
    finally:
        kill(worker)
    calls = Calls("recovered")
    redelivery = store_factory.pipeline(calls, name="crash")
    refused = redelivery.process(event("crash-1"))
    assert (refused.outcome, type(refused.error)) == (Outcome.RETRY, EventInProgress)
    key = redelivery.key_for(event("crash-1"))
    lease_end = store_factory().claim(key, "probe", time.time(), time.time() + 1, None).expires_at
    early = store_factory.pipeline(calls, name="crash", clock=Clock(lease_end - 0.01))
    assert early.process(event("crash-1")).outcome is Outcome.RETRY
    late = store_factory.pipeline(calls, name="crash", clock=Clock(lease_end))
    result = late.process(event("crash-1"))
    assert (result.outcome, result.value, result.attempt) == (Outcome.PROCESSED, "recovered", 2)
    assert calls.count == 1
