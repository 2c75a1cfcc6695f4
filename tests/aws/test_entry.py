"""The Lambda entry driven with SQS batches and S3 notifications from portable.testing, the
real asynchronous payloads of the fixtures, and the kit's fake Lambda context (remaining time,
request id); redelivery scenarios through the kit's harness."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from cloudevents.http import CloudEvent

import portable
from adapters import aws
from portable import ConfigurationError, MemorySink, MemoryStore, RetryableError, testing
from portable._deadletter import DeadLetter
from portable._entry import RedeliveryRequired
from portable._sqlite import SQLiteSink
from tests.conftest import fixture


class BrokenSink(MemorySink):
    def put(self, letter: DeadLetter) -> None:
        raise OSError("dead-letter queue unreachable")


def body(event: CloudEvent) -> str:
    """The body of the plain SQS message ``event`` was read from."""
    return str((event.get_data() or {})["body"])


class Recorder:
    """A handler that records what it saw and fails for bodies mentioning 'fail'."""

    def __init__(self) -> None:
        self.seen: list[CloudEvent] = []
        self.contexts: list[portable.Context] = []

    def __call__(self, event: CloudEvent) -> str:
        self.seen.append(event)
        self.contexts.append(portable.context())
        if "fail" in json.dumps(event.get_data()):
            raise RetryableError("downstream timed out")
        return f"done {event['id']}"

    @property
    def bodies(self) -> list[str]:
        return [body(event) for event in self.seen]


def failed(batch: dict[str, Any], response: dict[str, Any]) -> list[str]:
    """The bodies of the messages of ``batch`` the partial batch response reports."""
    bodies = {record["messageId"]: record["body"] for record in batch["Records"]}
    return [bodies[item["itemIdentifier"]] for item in response["batchItemFailures"]]


def make(handler: Any, **options: Any) -> Any:
    options.setdefault("store", "memory://")
    options.setdefault("dlq", "memory://")
    return aws.lambda_handler(handler, retry=1, **options)


# -- SQS event source mapping -----------------------------------------------------------------

def test_only_the_failed_messages_are_reported() -> None:
    recorder = Recorder()
    batch = testing.sqs_batch("ok 1", "fail 2", "ok 3", "fail 4")
    response = make(recorder)(batch, testing.lambda_context())
    assert failed(batch, response) == ["fail 2", "fail 4"]
    assert recorder.bodies == ["ok 1", "fail 2", "ok 3", "fail 4"]


def test_a_fully_successful_batch_reports_no_failures() -> None:
    response = make(Recorder())(fixture("aws/sqs_batch.json"), testing.lambda_context())
    assert response == {"batchItemFailures": []}


def test_a_batch_that_fails_as_a_whole_reports_every_message() -> None:
    batch = testing.sqs_batch("fail a", "fail b")
    response = make(Recorder())(batch, testing.lambda_context())
    assert failed(batch, response) == ["fail a", "fail b"]


def test_an_s3_message_fails_if_any_of_its_records_fails() -> None:
    s3 = testing.s3_event(testing.s3_record(key="photos/a b.jpg"),
                          testing.s3_record(key="fail.txt"))
    seen: list[str] = []

    def handle(event: CloudEvent) -> None:
        seen.append(event["subject"])
        if event["subject"] == "fail.txt":
            raise RetryableError("thumbnail service busy")

    batch = testing.sqs_batch(s3, "plain")
    response = make(handle)(batch, testing.lambda_context())
    assert failed(batch, response) == [json.dumps(s3)]
    assert seen == ["photos/a b.jpg", "fail.txt"]


def test_fifo_stops_at_the_first_failure_and_reports_the_rest() -> None:
    recorder = Recorder()
    batch = testing.sqs_batch("ok 1", "fail 2", "ok 3", "ok 4", queue="orders.fifo")
    response = make(recorder)(batch, testing.lambda_context())
    assert failed(batch, response) == ["fail 2", "ok 3", "ok 4"]
    assert recorder.bodies == ["ok 1", "fail 2"]


def test_fifo_docs_payload_is_processed_in_order() -> None:
    recorder = Recorder()
    response = make(recorder)(fixture("aws/sqs_fifo_docs.json"), testing.lambda_context())
    assert response == {"batchItemFailures": []}
    assert recorder.bodies == ["Test message."]


def test_near_the_deadline_unstarted_messages_are_reported(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    seen: list[str] = []

    def slow(event: CloudEvent) -> None:
        seen.append(body(event))
        clock[0] += 8.5  # the first message uses most of the 10 s left

    batch = testing.sqs_batch("a", "b", "c")
    response = make(slow)(batch, testing.lambda_context(remaining=10))
    assert seen == ["a"]
    assert failed(batch, response) == ["b", "c"]


def test_with_no_time_left_nothing_runs_and_everything_is_reported() -> None:
    recorder = Recorder()
    batch = testing.sqs_batch("a", "b")
    response = make(recorder)(batch, testing.lambda_context(remaining=0.5))
    assert recorder.seen == []
    assert failed(batch, response) == ["a", "b"]


def test_a_malformed_message_is_dead_lettered_raw_and_the_rest_succeed() -> None:
    recorder, sink = Recorder(), MemorySink()
    bad = json.dumps({"specversion": "1.0", "type": "com.example", "source": "/x"})  # no id
    batch = testing.sqs_batch("ok 1", testing.sqs_message(bad, message_id="msg-2"), "ok 3")
    response = make(recorder, dlq=sink)(batch, testing.lambda_context())
    assert response == {"batchItemFailures": []}
    assert recorder.bodies == ["ok 1", "ok 3"]
    (letter,) = sink.list()
    assert letter.event is None and letter.provider == "aws"
    assert json.loads(letter.raw or "")["messageId"] == "msg-2"
    assert "SQS message 'msg-2'" in letter.error["message"]
    assert letter.error["retryable"] is False


def test_a_malformed_message_whose_dead_letter_fails_is_reported() -> None:
    bad = json.dumps({"specversion": "1.0", "type": "com.example", "source": "/x"})
    batch = testing.sqs_batch("ok", bad)
    response = make(Recorder(), dlq=BrokenSink())(batch, testing.lambda_context())
    assert failed(batch, response) == [bad]


def test_a_failed_message_without_message_id_fails_the_whole_batch() -> None:
    batch = testing.sqs_batch("ok", "{}")
    del batch["Records"][1]["messageId"]
    with pytest.raises(RedeliveryRequired, match="whole batch"):
        make(Recorder(), dlq=BrokenSink())(batch, testing.lambda_context())


def test_a_redelivered_message_is_handled_once() -> None:
    """Also shows the pipeline (and its memory:// store) is built once, not per invocation."""
    recorder = Recorder()
    function = make(recorder)
    first = function(testing.sqs_batch("ok"), testing.lambda_context())
    again = function(testing.sqs_batch("ok", receive_count=2),
                     testing.lambda_context(request_id="r2"))
    assert first == again == {"batchItemFailures": []}
    assert recorder.bodies == ["ok"]


def test_a_message_twice_in_one_batch_is_handled_once() -> None:
    recorder = Recorder()
    message = testing.sqs_message("ok")
    batch = testing.sqs_batch(message, message)
    assert make(recorder)(batch, testing.lambda_context()) == {"batchItemFailures": []}
    assert recorder.bodies == ["ok"]


def test_duplicates_are_caught_across_cold_starts_with_sqlite(tmp_path: Path) -> None:
    recorder = Recorder()
    options = {"store": f"sqlite:///{tmp_path}/idempotency.db",
               "dlq": f"sqlite:///{tmp_path}/dead-letters.db"}
    make(recorder, **options)(testing.sqs_batch("ok"), testing.lambda_context())
    make(recorder, **options)(testing.sqs_batch("ok", receive_count=2), testing.lambda_context())
    assert recorder.bodies == ["ok"]


def test_sqs_attempts_come_from_the_receive_count_and_never_end_by_default() -> None:
    recorder = Recorder()
    batch = testing.sqs_batch("fail")
    report = testing.run(recorder, batch, via="aws", attempts=50, retry=1)
    assert [ctx.attempt for ctx in recorder.contexts] == list(range(1, 51))
    assert {ctx.max_attempts for ctx in recorder.contexts} == {None}
    assert failed(batch, report.response) == ["fail"]  # the queue's redrive policy dead-letters it
    assert len(report.retried) == 50 and report.dead_letters == []


def test_with_max_attempts_the_last_receive_is_dead_lettered_and_acked() -> None:
    batch = testing.sqs_batch(testing.sqs_message("fail", message_id="msg-1"))
    report = testing.run(Recorder(), batch, via="aws", attempts=10, max_attempts=5, retry=1)
    assert report.deliveries == 5  # acked on the fifth receive: SQS delivers it no more
    assert report.retried == ["msg-1"] * 4 and report.dead_lettered == ["msg-1"]
    assert failed(batch, report.responses[3]) == ["fail"]
    assert report.response == {"batchItemFailures": []}
    (letter,) = report.dead_letters
    assert letter.attempts == 5 and letter.event is not None
    assert letter.event["id"] == "msg-1"


def test_the_handler_sees_the_lambda_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 5_000.0)
    recorder = Recorder()
    batch = testing.sqs_batch(testing.sqs_message("ok", message_id="msg-1", receive_count=3))
    context = testing.lambda_context(remaining=30,
                                     request_id="c6af9ac6-7b61-11e6-9a41-93e8deadbeef")
    make(recorder)(batch, context)
    (ctx,) = recorder.contexts
    assert (ctx.provider, ctx.attempt, ctx.deadline) == ("aws", 3, 5_030.0)
    assert ctx.correlation_id == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    assert ctx.raw["messageId"] == "msg-1"


def test_an_s3_test_event_in_a_queue_is_acked_without_calling_the_handler() -> None:
    recorder = Recorder()
    batch = testing.sqs_batch(fixture("aws/s3_test_event.json"))
    assert make(recorder)(batch, testing.lambda_context()) == {"batchItemFailures": []}
    assert recorder.seen == []


# -- asynchronous invocations (S3, SNS, EventBridge direct) -----------------------------------

def test_an_async_invoke_returns_a_summary_and_a_repeat_is_a_duplicate() -> None:
    seen: list[str] = []
    function = make(lambda event: seen.append(event["subject"]))
    payload = fixture("aws/s3_object_created_put_urlencoded_key.json")
    assert function(payload, testing.lambda_context()) == {"events": 1, "processed": 1}
    assert function(payload, testing.lambda_context()) == {"events": 1, "duplicate": 1}
    assert seen == ["Happy Face.jpg"]


def test_an_async_invoke_raises_to_be_retried_then_dead_letters_on_the_third() -> None:
    calls: list[int | None] = []
    sink = MemorySink()

    def always_busy(event: CloudEvent) -> None:
        calls.append(portable.context().attempt)
        raise RetryableError("database is busy")

    function = make(always_busy, dlq=sink, store=MemoryStore())
    payload = fixture("aws/sns_notification.json")
    for _ in range(2):
        with pytest.raises(RedeliveryRequired, match="1 of 1 event"):
            function(payload, testing.lambda_context())
    assert sink.list() == []
    assert function(payload, testing.lambda_context()) == {"events": 1, "dead_lettered": 1}
    assert function(payload, testing.lambda_context()) == {"events": 1, "skipped": 1}
    assert calls == [1, 2, 3]
    (letter,) = sink.list()
    assert letter.attempts == 3 and letter.error["retryable"] is True
    assert letter.event is not None and letter.event["id"] == "95df01b4-ee98-5cb9-9903-4c221d41eb5e"


def test_a_permanent_error_in_an_async_invoke_is_dead_lettered_at_once() -> None:
    sink = MemorySink()

    def reject(event: CloudEvent) -> None:
        raise portable.PermanentError("not an image")

    function = make(reject, dlq=sink)
    result = function(fixture("aws/s3_eventbridge_object_created.json"), testing.lambda_context())
    assert result == {"events": 1, "dead_lettered": 1}
    assert len(sink.list()) == 1


def test_an_unrecognised_async_payload_is_dead_lettered_raw() -> None:
    recorder, sink = Recorder(), MemorySink()
    payload = {"resource": "/orders", "httpMethod": "POST", "body": "{}"}
    assert make(recorder, dlq=sink)(payload, testing.lambda_context()) == {
        "events": 0, "dead_lettered": 1}
    assert recorder.seen == []
    (letter,) = sink.list()
    assert json.loads(letter.raw or "") == payload
    assert "not recognised" in letter.error["message"]


def test_an_unrecognised_payload_that_cannot_be_dead_lettered_raises() -> None:
    with pytest.raises(RedeliveryRequired):
        make(Recorder(), dlq=BrokenSink())({"unknown": True}, testing.lambda_context())


def test_an_s3_test_event_invokes_nothing() -> None:
    recorder = Recorder()
    response = make(recorder)(fixture("aws/s3_test_event.json"), testing.lambda_context())
    assert response == {"events": 0}
    assert recorder.seen == []


def test_an_async_invoke_gets_lambdas_attempt_limit() -> None:
    recorder = Recorder()
    make(recorder)(fixture("aws/s3_object_created_put.json"), None)
    (ctx,) = recorder.contexts
    assert (ctx.attempt, ctx.max_attempts, ctx.deadline) == (1, 3, None)


# -- cold start -------------------------------------------------------------------------------

def test_on_lambda_without_store_settings_the_cold_start_fails(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "thumbnails")
    with pytest.raises(ConfigurationError, match="PORTABLE_STORE"):
        aws.lambda_handler(Recorder())


def test_sqlite_store_and_sink_keep_a_malformed_record(tmp_path: Path) -> None:
    sink_url = f"sqlite:///{tmp_path}/dlq.db"
    function = make(Recorder(), store=f"sqlite:///{tmp_path}/s.db", dlq=sink_url)
    bad = json.dumps({"specversion": "0.3", "id": "1", "type": "com.example", "source": "/x"})
    batch = testing.sqs_batch(testing.sqs_message(bad, message_id="msg-1"))
    assert function(batch, testing.lambda_context()) == {"batchItemFailures": []}
    sink = SQLiteSink.from_url(sink_url)
    (letter,) = sink.list()
    assert json.loads(letter.raw or "")["messageId"] == "msg-1"
    sink.close()
