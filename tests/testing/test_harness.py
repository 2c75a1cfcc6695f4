"""The harness runs a handler through each entry with an in-memory store and sink and reports
what happened: the same handler, the same behaviour on every entry."""

from __future__ import annotations

from typing import Any

import pytest
from cloudevents.http import CloudEvent

from portable import App, MemorySink, MemoryStore, PermanentError, RetryableError, testing
from portable._entry import RedeliveryRequired

ORDER = {"order_id": "o-1", "items": [{"sku": "tea", "quantity": 1, "price": "2.5"}]}

PAYLOADS: dict[str, Any] = {
    "aws": testing.s3_event(bucket="b", key="a.txt"),
    "azure-blob": testing.blob_input_stream("uploads/a.txt", b"hello"),
    "azure-eventgrid": testing.blob_created_event("uploads", "a.txt"),
    "azure-queue": testing.queue_message(ORDER),
    "azure-webhook": [testing.blob_created_event("uploads", "a.txt", schema="cloudevents")],
    "gcp-push": testing.gcs_notification("b", "a.txt"),
    "gcp-cloudevent": testing.pubsub_push(ORDER),
}


class Flaky:
    """Fails with a transient error the first ``failures`` calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, event: CloudEvent) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise RetryableError(f"call {self.calls} failed")
        return "done"


@pytest.mark.parametrize("via", sorted(PAYLOADS))
def test_a_redelivered_failure_runs_again_then_is_processed(via: str) -> None:
    report = testing.run(Flaky(1), PAYLOADS[via], via=via, attempts=3, retry=1,
                         max_attempts=3)
    [event_id] = set(report.ran)
    assert report.ran == [event_id, event_id]
    assert report.retried == [event_id] and report.processed == [event_id]
    assert report.deliveries == 2 and report.dead_letters == []


@pytest.mark.parametrize("via", sorted(PAYLOADS))
def test_a_permanent_error_is_dead_lettered_at_once_and_acknowledged(via: str) -> None:
    def refuse(event: CloudEvent) -> None:
        raise PermanentError("never")

    report = testing.run(refuse, PAYLOADS[via], via=via, attempts=3)
    [event_id] = report.ran
    assert report.dead_lettered == [event_id] and report.deliveries == 1
    [letter] = report.dead_letters
    assert letter.cloudevent()["id"] == event_id and letter.error["message"] == "never"


@pytest.mark.parametrize("via", sorted(PAYLOADS))
def test_the_last_attempt_dead_letters_a_transient_failure(via: str) -> None:
    report = testing.run(Flaky(99), PAYLOADS[via], via=via, attempts=5, retry=2,
                         max_attempts=2)
    assert len(report.ran) == 4  # two deliveries, two in-process tries each
    assert len(report.retried) == 1 and len(report.dead_lettered) == 1
    assert report.dead_letters[0].error["retryable"] is True


def test_a_second_delivery_of_a_processed_event_is_a_duplicate() -> None:
    store, sink = MemoryStore(), MemorySink()
    handle = Flaky(0)
    payload = testing.sqs_batch(ORDER)
    first = testing.run(handle, payload, store=store, dlq=sink)
    again = testing.run(handle, payload, store=store, dlq=sink)
    assert first.processed == again.duplicates == first.ran
    assert again.ran == [] and handle.calls == 1


def test_sqs_redelivers_only_the_failed_message_with_its_receive_count_raised() -> None:
    attempts: list[int | None] = []

    def handle(event: CloudEvent) -> None:
        from portable import context

        attempts.append(context().attempt)
        if event.get_data()["body"] == "bad" and context().attempt == 1:
            raise RetryableError("not yet")

    report = testing.run(handle, testing.sqs_batch("bad", "good"), attempts=2,
                         retry=1)
    assert attempts == [1, 1, 2]
    assert report.responses[0]["batchItemFailures"] == [
        {"itemIdentifier": report.ran[0]}]
    assert report.response == {"batchItemFailures": []}


def test_a_fifo_batch_stops_at_the_first_failure() -> None:
    batch = testing.sqs_batch(*(testing.sqs_message(n, queue="orders.fifo", group="g")
                                for n in range(3)))
    report = testing.run(Flaky(1), batch, retry=1)
    assert len(report.ran) == 1
    assert len(report.response["batchItemFailures"]) == 3


def test_an_async_invocation_that_must_be_retried_raises() -> None:
    report = testing.run(Flaky(9), testing.s3_event(), retry=1)
    assert isinstance(report.response, RedeliveryRequired)


def test_pubsub_push_attempt_comes_from_delivery_attempt() -> None:
    seen: list[int | None] = []

    def handle(event: CloudEvent) -> None:
        from portable import context

        seen.append(context().attempt)
        raise RetryableError("down")

    report = testing.run(handle, testing.pubsub_push(b"x", delivery_attempt=4), via="gcp-push",
                         attempts=3, retry=1, max_attempts=5)
    assert seen == [4, 5]
    assert [answer[1] for answer in report.responses] == [500, 200]
    assert len(report.dead_letters) == 1


def test_unmatched_events_of_a_tolerant_app_are_not_reported_as_run() -> None:
    app = App("tolerant", ignore_unmatched=True)
    app.on("never.this")(Flaky(0))
    report = testing.run(app, testing.s3_event())
    assert report.ran == [] and len(report.processed) == 1


def test_an_unknown_entry_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown via"):
        testing.run(Flaky(0), {}, via="lambda")
