"""The SQS dead-letter sink beyond the shared contract: its URLs, what the console shows of a
letter, reading without consuming, and the messages SQS's own redrive policy dead-lettered,
listed and replayed with ``portable dlq`` (the sink contract runs in tests/contract)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from click.testing import CliRunner

from adapters.aws.dlq import QueueSpec, SQSSink
from portable import ConfigurationError, DeadLetter, PermanentError, new_event
from portable._cli import main as cli
from tests.aws.emulator import MotoServer
from tests.aws.mapping import Queue
from tests.conftest import fixture


@pytest.mark.parametrize(("url", "spec"), [
    ("sqs://orders-dlq", QueueSpec("orders-dlq", None, False, 1, None)),
    ("sqs://sqs.eu-west-1.amazonaws.com/123456789012/orders-dlq?create=true",
     QueueSpec("orders-dlq", "https://sqs.eu-west-1.amazonaws.com/123456789012/orders-dlq",
               True, 1, "eu-west-1")),
    ("sqs://127.0.0.1:4566/000000000000/dlq.fifo?wait=0&region=eu-north-1",
     QueueSpec("dlq.fifo", "https://127.0.0.1:4566/000000000000/dlq.fifo", False, 0,
               "eu-north-1")),
])
def test_sink_urls(url: str, spec: QueueSpec) -> None:
    assert QueueSpec.parse(url) == spec


@pytest.mark.parametrize("url", ["sqs://", "sqs://host/only-one", "sqs://q?wait=21",
                                 "sqs://q?wait=soon", "sqs:///q"])
def test_bad_sink_urls_say_what_is_expected(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"sqs://|wait"):
        QueueSpec.parse(url)


def letter(n: int = 1) -> DeadLetter:
    event = new_event({"id": f"order-{n}", "source": "/shop", "type": "com.example.order.created",
                       "datacontenttype": "application/json"}, {"n": n})
    return DeadLetter.build(PermanentError("no items"), retryable=False, event=event, attempts=2,
                            handler="shop:on_order", provider="aws")


@pytest.fixture
def sink(moto_server: MotoServer, unique: Any) -> Any:
    opened = SQSSink.from_url(f"sqs://{unique('dlq')}?create=true&wait=0")
    yield opened
    opened.close()


def test_letters_carry_attributes_to_filter_and_read_them_by(sink: SQSSink, boto: Any) -> None:
    item = letter()
    sink.put(item)
    [message] = Queue(boto("sqs"), sink.queue_url).receive()
    attributes = {name: spec["StringValue"] for name, spec in message["MessageAttributes"].items()}
    assert attributes.pop("portable.sent").isdigit()
    assert attributes == {
        "portable.letter": item.id, "portable.error": "portable._errors.PermanentError",
        "portable.event-id": "order-1", "portable.event-type": "com.example.order.created",
        "portable.handler": "shop:on_order", "portable.attempts": "2"}
    assert DeadLetter.from_json(message["Body"]) == item


def test_reading_leaves_every_letter_in_the_queue_for_the_next_reader(
    sink: SQSSink, boto: Any
) -> None:
    for n in (1, 2, 3):
        sink.put(letter(n))
    assert len(sink.list()) == 3
    assert sink.get("no-such-letter") is None
    assert len(Queue(boto("sqs"), sink.queue_url).receive()) == 3  # visible again at once


def test_a_letter_written_again_replaces_the_older_message(sink: SQSSink, boto: Any) -> None:
    first, other = letter(1), letter(2)
    sink.put(first)
    sink.put(other)
    again = replace(first, attempts=3, last_failure="2030-01-01T00:00:00Z")
    sink.put(again)  # what `portable dlq replay` does when the handler fails again
    assert sink.list() == [other, again]
    assert Queue(boto("sqs"), sink.queue_url).counts() == (2, 0)


def test_a_missing_queue_is_a_configuration_error(moto_server: MotoServer, unique: Any) -> None:
    with pytest.raises(ConfigurationError, match="SQS queue"):
        SQSSink.from_url(f"sqs://{unique('missing')}?wait=0").put(letter())


# -- messages SQS dead-lettered itself -----------------------------------------------------------

@pytest.fixture
def redrive(moto_server: MotoServer, boto: Any, unique: Any) -> tuple[Queue, Queue]:
    """A source queue whose redrive policy moves a message to its DLQ after 2 receives."""
    sqs = boto("sqs")
    dlq = Queue(sqs, sqs.create_queue(QueueName=unique("redrive-dlq"))["QueueUrl"])
    source = Queue(sqs, sqs.create_queue(QueueName=unique("redrive-src"), Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 2}),
    })["QueueUrl"])
    return source, dlq


def fail_until_moved(source: Queue) -> None:
    """Receive without deleting (a function that keeps failing) until SQS moves the message."""
    for _ in range(5):
        for message in source.receive():
            source.sqs.change_message_visibility(QueueUrl=source.url, VisibilityTimeout=0,
                                                 ReceiptHandle=message["ReceiptHandle"])
    assert source.counts() == (0, 0)


def test_a_message_sqs_dead_lettered_lists_with_its_source_and_event(
    redrive: tuple[Queue, Queue],
) -> None:
    source, dlq = redrive
    body = json.dumps(fixture("aws/s3_object_created_put.json"))
    sent = source.sqs.send_message(QueueUrl=source.url, MessageBody=body, MessageAttributes={
        "tenant": {"DataType": "String", "StringValue": "acme"}})
    fail_until_moved(source)
    sink = SQSSink.from_url(f"sqs://{dlq.url.rsplit('/', 1)[1]}?wait=0")
    [found] = sink.list()
    assert (found.id, found.raw, found.attempts, found.provider) == (
        sent["MessageId"], body, 2, "aws")
    assert found.error["type"] == "aws.sqs.redrive" and source.arn in found.error["message"]
    assert found.origin is not None
    assert (found.origin["kind"], found.origin["source"]) == ("sqs-redrive", source.arn)
    event = found.cloudevent()  # what the Lambda entry made of the message
    assert event is not None and event["type"] == "com.amazonaws.s3.ObjectCreated:Put"
    assert sink.get(found.id) == found


def test_portable_dlq_replay_sends_it_back_to_its_source_queue(
    redrive: tuple[Queue, Queue],
) -> None:
    source, dlq = redrive
    attributes: dict[str, dict[str, Any]] = {
        "ce-id": {"DataType": "String", "StringValue": "order-7"},
        "ce-source": {"DataType": "String", "StringValue": "/shop"},
        "ce-type": {"DataType": "String", "StringValue": "com.example.order.created"},
        "ce-specversion": {"DataType": "String", "StringValue": "1.0"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}}
    source.sqs.send_message(QueueUrl=source.url, MessageBody='{"n": 7}',
                            MessageAttributes=attributes)
    fail_until_moved(source)
    url = f"sqs://{dlq.url.rsplit('/', 1)[1]}?wait=0"

    listed = CliRunner().invoke(cli, ["dlq", "list", "--dlq", url, "--json"])
    assert listed.exit_code == 0, listed.output
    [shown] = [json.loads(line) for line in listed.output.splitlines() if line.startswith("{")]
    assert shown["event"]["id"] == "order-7" and shown["origin"]["kind"] == "sqs-redrive"

    replayed = CliRunner().invoke(cli, ["dlq", "replay", "--all", "--dlq", url])
    assert replayed.exit_code == 0, replayed.output
    assert f"sent back to {source.arn}" in replayed.output
    assert dlq.counts() == (0, 0)
    [back] = source.receive()
    assert back["Body"] == '{"n": 7}'
    assert {name: spec.get("StringValue", spec.get("BinaryValue"))
            for name, spec in back["MessageAttributes"].items()} == {
        name: spec.get("StringValue", spec.get("BinaryValue"))
        for name, spec in attributes.items()}


def test_a_lambda_async_dlq_message_shows_the_functions_error(
    moto_server: MotoServer, boto: Any, unique: Any
) -> None:
    sqs = boto("sqs")
    name = unique("lambda-dlq")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    body = json.dumps(fixture("aws/s3_object_created_put.json"))
    sqs.send_message(QueueUrl=url, MessageBody=body,
                     MessageAttributes={
                         "RequestID": {"DataType": "String", "StringValue": "req-1"},
                         "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                         "ErrorMessage": {"DataType": "String", "StringValue": "boom"}})
    [found] = SQSSink.from_url(f"sqs://{name}?wait=0").list()
    assert (found.error["type"], found.error["message"]) == ("aws.lambda.200", "boom")
    assert found.origin is not None and found.origin["kind"] == "sqs"
    assert SQSSink.from_url(f"sqs://{name}?wait=0").redeliver(found) is False
