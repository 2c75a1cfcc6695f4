"""Stable ids for the events a handler publishes: derived from the event being handled and a
sequence that restarts with every call of the handler, so a retried handler publishes the same
ids again and consumers drop the copies."""

from __future__ import annotations

from typing import Any

import pytest
from cloudevents.http import CloudEvent

from adapters import aws, gcp
from adapters.aws import egress as aws_egress
from portable import MemoryStore, RetryableError, context, emit, testing
from portable._context import derived_id


class Publisher:
    """A Pub/Sub PublisherClient stand-in that keeps what it is given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    def publish(self, topic: str, data: bytes, **attributes: str) -> Any:
        self.sent.append((topic, data, attributes))
        return self

    def result(self, timeout: float | None = None) -> str:
        return str(len(self.sent))

    def ids(self) -> list[str]:
        return [attributes["ce-id"] for _, _, attributes in self.sent]


def fan_out(publisher: Publisher, failures: int) -> Any:
    """A handler publishing two events, then failing ``failures`` times."""
    calls = [0]

    def handle(event: CloudEvent) -> None:
        for n in (1, 2):
            gcp.publish(emit("com.example.out", {"n": n}, source="/fan-out"),
                        "projects/p/topics/out", publisher=publisher)  # type: ignore[arg-type]
        calls[0] += 1
        if calls[0] <= failures:
            raise RetryableError("failed after publishing")

    return handle


def test_an_in_process_retry_publishes_the_same_ids() -> None:
    publisher = Publisher()
    report = testing.run(fan_out(publisher, 1), testing.sqs_batch("order"), retry=2)
    [event_id] = set(report.ran)
    assert len(report.ran) == 2 and report.processed == [event_id]
    first, second = publisher.ids()[:2], publisher.ids()[2:]
    assert first == second and len(set(first)) == 2


def test_a_platform_redelivery_publishes_the_same_ids() -> None:
    publisher = Publisher()
    report = testing.run(fan_out(publisher, 1), testing.blob_input_stream("c/a.txt"),
                         via="azure-blob", attempts=2, retry=1)
    assert report.retried == report.processed == report.ran[:1]
    assert publisher.ids()[:2] == publisher.ids()[2:]


def test_ids_differ_between_events_and_between_handlers() -> None:
    store = MemoryStore()
    publisher = Publisher()
    testing.run(fan_out(publisher, 0), testing.s3_event(key="a"), store=store)
    testing.run(fan_out(publisher, 0), testing.s3_event(key="b"), store=store)
    testing.run(fan_out(publisher, 0), testing.s3_event(key="b"), store=store, name="other")
    assert len(set(publisher.ids())) == 6


def test_the_id_is_derived_from_handler_source_id_and_sequence() -> None:
    seen: list[tuple[CloudEvent, str]] = []

    def handle(event: CloudEvent) -> None:
        seen.append((event, emit("t", source="/s")["id"]))

    report = testing.run(handle, testing.pubsub_push(b"x"), via="gcp-cloudevent", name="h")
    [(event, published)] = seen
    assert report.ran == [event["id"]]
    assert published == derived_id(event, "h", 1) != derived_id(event, "h", 2)


def test_publish_fills_a_missing_id_inside_a_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[dict[str, Any]] = []
    monkeypatch.setitem(aws_egress.SENDERS, "sqs",
                        lambda where, message: sent.append(message) or "m-1")
    ids: list[str] = []

    def handle(event: CloudEvent) -> None:
        out = CloudEvent({"type": "t", "source": "/s"}, {"a": 1})
        del out["id"]
        aws.publish(out, "https://sqs.us-east-1.amazonaws.com/123456789012/out")
        ids.append(out["id"])

    testing.run(handle, testing.sqs_batch("x"), name="h")
    [message] = sent
    assert message["MessageAttributes"]["ce-id"]["StringValue"] == ids[0]
    assert ids[0] == derived_id(_only_event(testing.sqs_batch("x")), "h", 1)


def test_outside_a_handler_ids_are_random() -> None:
    assert emit("t", source="/s")["id"] != emit("t", source="/s")["id"]
    assert context().next_id() != context().next_id()
    assert emit("t", source="/s", id="mine")["id"] == "mine"


def _only_event(payload: Any) -> CloudEvent:
    [event] = aws.to_cloudevents(payload)
    return event
