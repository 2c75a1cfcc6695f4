"""The Pub/Sub dead-letter sink beyond the shared sink contract: what its messages carry, the
letters Pub/Sub dead-letters itself, sending those back with ``portable dlq replay``, and the
deployment mistakes it refuses."""

from __future__ import annotations

import base64
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner

from adapters import gcp
from adapters.gcp.dlq import PubSubSink, read_message
from portable import ConfigurationError, DeadLetter, PermanentError, new_event
from portable._cli import main as cli
from portable._config import sink_from
from tests.conftest import fixture
from tests.gcp.contract_backends import PROJECT, eventually


def letter(n: int = 1) -> DeadLetter:
    event = new_event({"id": f"order-{n}", "source": "/orders/service",
                       "type": "com.example.order.created"}, {"n": n})
    return DeadLetter.build(PermanentError("order has no items"), retryable=False, event=event,
                            attempts=2, handler="orders:handle", provider="gcp", key=f"k{n}")


def subscriber() -> Any:
    from google.cloud import pubsub_v1

    return pubsub_v1.SubscriberClient()


def pull_all(subscription: str) -> list[Any]:
    """Every message on ``subscription``, acknowledged."""
    with subscriber() as client:
        response = client.pull(request={"subscription": subscription, "max_messages": 100},
                               timeout=10)
        if response.received_messages:
            client.acknowledge(request={"subscription": subscription, "ack_ids": [
                received.ack_id for received in response.received_messages]})
        return [received.message for received in response.received_messages]


@dataclass
class Topics:
    """A dead-letter topic with its sink, and an ``orders`` topic whose subscription
    dead-letters to it after 5 attempts."""

    sink: PubSubSink
    url: str
    orders: str
    subscription: str


@pytest.fixture
def topics(pubsub_env: str) -> Iterator[Topics]:
    name = uuid.uuid4().hex[:12]
    dead_letters = f"projects/{PROJECT}/topics/dead-letters-{name}"
    url = f"pubsub://{dead_letters}?create=true"
    sink = PubSubSink.from_url(url)
    sink.list()  # creates the topic and the sink's subscription
    orders = f"projects/{PROJECT}/topics/orders-{name}"
    subscription = f"projects/{PROJECT}/subscriptions/orders-{name}"
    gcp.egress.default_publisher().create_topic(request={"name": orders})
    with subscriber() as client:
        client.create_subscription(request={
            "name": subscription, "topic": orders, "ack_deadline_seconds": 10,
            "dead_letter_policy": {"dead_letter_topic": dead_letters,
                                   "max_delivery_attempts": 5}})
    yield Topics(sink, url, orders, subscription)
    sink.close()


def refuse(subscription: str) -> None:
    """Take what ``subscription`` delivers and give it back (a nack). The emulator moves a
    message to the dead-letter topic when it would deliver it once more than allowed."""
    with subscriber() as client, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # return_immediately
        response = client.pull(request={"subscription": subscription, "max_messages": 10,
                                        "return_immediately": True}, timeout=10)
        if response.received_messages:
            client.modify_ack_deadline(request={
                "subscription": subscription, "ack_deadline_seconds": 0,
                "ack_ids": [received.ack_id for received in response.received_messages]})


# -- reading what Pub/Sub dead-lettered ------------------------------------------------------

def test_a_message_pubsub_dead_lettered_reads_as_a_letter_with_its_origin() -> None:
    captured = fixture("gcp/pubsub_dead_lettered_emulator.json")
    stored = read_message(captured["data"].encode(), captured["attributes"],
                          captured["message_id"], "2026-11-28T20:14:01.002Z")
    assert stored.id == "4"
    assert stored.origin == {
        "kind": "pubsub-deadletter", "source": "projects/test-proj/subscriptions/orders-push",
        "message_id": "4", "delivery_count": 5,
        "attributes": {"ce-source": "/orders/service", "ce-id": "A234-1234-5678-9ABC",
                       "ce-type": "com.example.order.created", "ce-specversion": "1.0",
                       "content-type": "application/json"}}
    assert stored.event == {"specversion": "1.0", "id": "A234-1234-5678-9ABC",
                            "source": "/orders/service", "type": "com.example.order.created",
                            "datacontenttype": "application/json",
                            "data": {"orderId": "order-12345"}}
    assert stored.raw_bytes() == captured["data"].encode()
    assert stored.attempts == 5 and stored.provider == "gcp"
    assert (stored.first_failure, stored.last_failure) == (
        "2026-11-28T20:13:44.271Z", "2026-11-28T20:14:01.002Z")
    assert "5 delivery attempt(s) on projects/test-proj/subscriptions/orders-push" in (
        stored.error["message"])


def test_a_plain_message_reads_as_the_event_the_handler_was_given() -> None:
    data = b"\x00\xffnot text"
    stored = read_message(data, {"CloudPubSubDeadLetterSourceSubscription": "billing",
                                 "CloudPubSubDeadLetterSourceSubscriptionProject": "p",
                                 "CloudPubSubDeadLetterSourceDeliveryCount": "7",
                                 "region": "eu"}, "99", "2026-11-28T20:14:01Z")
    assert stored.event is not None
    assert stored.event["type"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert stored.event["data"]["message"]["data"] == base64.b64encode(data).decode()
    assert stored.event["data"]["subscription"] == "projects/p/subscriptions/billing"
    assert stored.raw_bytes() == data and stored.raw_encoding == "base64"
    assert stored.origin is not None and stored.origin["attributes"] == {"region": "eu"}


def test_pubsub_dead_letters_are_listed_and_replayed_to_their_source(topics: Topics) -> None:
    event = new_event({"id": "order-77", "source": "/orders/service",
                       "type": "com.example.order.created",
                       "datacontenttype": "application/json"}, {"orderId": "order-77"})
    published = gcp.from_cloudevent(event)
    gcp.publish(event, topics.orders)

    def dead_lettered() -> list[DeadLetter]:
        refuse(topics.subscription)
        return topics.sink.list()

    [stored] = eventually(dead_lettered, "Pub/Sub moves the message to the dead letters")
    assert stored.attempts == 5
    assert stored.cloudevent() == event
    assert stored.origin is not None and stored.origin["source"] == topics.subscription
    shown = run("dlq", "list", "--dlq", topics.url)
    assert "com.example.order.created" in shown and "Pub/Sub dead-lettered it" in shown

    replayed = run("dlq", "replay", "--all", "--dlq", topics.url)
    assert f"sent back to {topics.subscription}" in replayed
    [again] = pull_all(topics.subscription)
    assert dict(again.attributes) == published.attributes
    assert again.data == published.data
    assert topics.sink.list() == []


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


# -- the sink's own letters ------------------------------------------------------------------

def test_letters_carry_attributes_to_filter_on(topics: Topics) -> None:
    watcher = topics.sink.subscription + "-watch"
    with subscriber() as client:
        client.create_subscription(request={"name": watcher, "topic": topics.sink.topic})
    original = letter()
    topics.sink.put(original)
    [message] = pull_all(watcher)
    assert DeadLetter.from_json(message.data) == original
    attributes = dict(message.attributes)
    assert int(attributes.pop("portable.sent")) > 0
    assert attributes == {
        "portable.letter": original.id, "portable.error": "portable._errors.PermanentError",
        "portable.event-id": "order-1", "portable.event-type": "com.example.order.created",
        "portable.event-source": "/orders/service", "portable.handler": "orders:handle",
        "portable.provider": "gcp", "portable.attempts": "2", "content-type": "application/json"}


def test_a_letter_put_again_is_read_once_with_its_newest_content(topics: Topics) -> None:
    first, second = letter(1), letter(2)
    topics.sink.put(first)
    topics.sink.put(second)
    failed_again = DeadLetter.from_json(first.to_json())
    failed_again.attempts, failed_again.error = 3, {**first.error, "message": "still no items"}
    topics.sink.put(failed_again)
    assert topics.sink.list() == [failed_again, second]
    assert topics.sink.delete(first.id)
    assert topics.sink.list() == [second]


def test_reading_leaves_the_letters_for_the_next_reader(topics: Topics) -> None:
    topics.sink.put(letter())
    other = sink_from(topics.url)
    try:
        assert len(topics.sink.list()) == len(other.list()) == 1
        assert other.get(topics.sink.list()[0].id) is not None
    finally:
        other.close()


# -- deployment mistakes ---------------------------------------------------------------------

def test_a_letter_nobody_would_keep_is_refused(pubsub_env: str) -> None:
    """Without ?create=true the subscription must exist: a topic alone keeps nothing."""
    topic = f"projects/{PROJECT}/topics/unread-{uuid.uuid4().hex[:8]}"
    gcp.egress.default_publisher().create_topic(request={"name": topic})
    sink = PubSubSink.from_url(f"pubsub://{topic}")
    with pytest.raises(ConfigurationError, match="portable-dlq: NOT_FOUND: it does not exist"):
        sink.put(letter())


@pytest.mark.parametrize("url", [
    "pubsub://my-topic",
    "pubsub://projects/p/subscriptions/s",
    "pubsub://projects/p/topics/t?creat=true",
])
def test_bad_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError, match="Pub/Sub"):
        sink_from(url)


def test_the_subscription_can_be_named() -> None:
    sink = PubSubSink.from_url("pubsub://projects/p/topics/dead?subscription=ops-review")
    assert sink.subscription == "projects/p/subscriptions/ops-review"
    assert PubSubSink.from_url("pubsub://projects/p/topics/dead").subscription == (
        "projects/p/subscriptions/dead-portable-dlq")

