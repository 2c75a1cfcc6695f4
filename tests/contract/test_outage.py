"""A store that goes down mid-run: the delivery fails as retryable, the handler never runs
unguarded, and the event is processed once the store is back (nothing is lost).

Each backend's Outage takes its own store down: redis-server is stopped (a server of the test's
own, so the shared one keeps running); SQLite is locked by another connection.
"""

from __future__ import annotations

import pytest
from cloudevents.http import CloudEvent

from portable import MemorySink, Outcome, Pipeline, Store, StoreUnavailable
from portable._app import Handler
from tests.contract.backends import Outage
from tests.contract.support import Calls, Clock, event

pytestmark = pytest.mark.needs("outage")


def worker(store: Store, handler: Handler, **options: object) -> Pipeline:
    return Pipeline(handler, store=store, dlq=MemorySink(), retry=1, name="outage", **options)


def test_a_store_outage_fails_the_delivery_and_loses_nothing(outage: Outage) -> None:
    calls = Calls()
    pipeline = worker(outage.open(), calls)
    assert pipeline.process(event("before")).outcome is Outcome.PROCESSED
    outage.down()
    try:
        during = pipeline.process(event("during"))
    finally:
        outage.up()
    assert (during.outcome, during.acked) == (Outcome.RETRY, False)
    assert isinstance(during.error, StoreUnavailable)
    assert calls.ids == ["before"]
    redelivered = pipeline.process(event("during"))
    assert redelivered.outcome is Outcome.PROCESSED
    assert calls.ids == ["before", "during"]


def test_a_store_lost_while_the_handler_runs_still_gets_the_event_done(outage: Outage) -> None:
    """At least once: the work is reported done; a redelivery after the lease runs it again."""
    clock, calls = Clock(), Calls()

    def handler(ev: CloudEvent) -> object:
        outage.down()  # the completion cannot be written
        return calls(ev)

    assert worker(outage.open(), handler, clock=clock).process(event()).outcome is Outcome.PROCESSED
    outage.up()
    clock.now += 3600
    redelivered = worker(outage.open(), calls, clock=clock).process(event())
    assert redelivered.outcome is Outcome.PROCESSED
    assert calls.count == 2
