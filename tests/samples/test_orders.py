"""The order flow across clouds: orders placed on one provider's queue or topic, through that
provider's entry, accepted once, and published to another provider, read back there: SQS ->
Azure Storage queue, Azure Storage queue -> Pub/Sub, Pub/Sub push and Eventarc -> SQS, and a
local ``portable serve`` -> a folder. A retried handler publishes the same event id again;
invalid orders are dead-lettered and publish nothing."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cloudevents.http import CloudEvent

from adapters import aws, azure, gcp
from adapters.aws.dlq import SQSSink
from portable import MemorySink, Outcome, Pipeline, from_json, new_event, to_json
from portable._serve import Server
from samples.orders import ACCEPTED, PLACED, accepted_id, app
from tests.aws.emulator import REGION, MotoServer
from tests.aws.mapping import EventSourceMapping, Queue
from tests.azure import _host, _hosting
from tests.azure.contract_backends import Azurite
from tests.gcp.contract_backends import PROJECT
from tests.samples.support import eventarc, push, served, wrapper

TEA = [{"sku": "tea", "quantity": 2, "price": 2.5}, {"sku": "cup", "price": "0.10"}]


def order(order_id: str, items: list[dict[str, Any]] | None = None,
          source: str = "/shop") -> CloudEvent:
    return new_event({"id": f"{order_id}-{uuid.uuid4().hex[:6]}", "source": source,
                      "type": PLACED, "datacontenttype": "application/json"},
                     {"order_id": order_id, "currency": "EUR",
                      "items": TEA if items is None else items})


def check_accepted(event: CloudEvent, placed: CloudEvent) -> None:
    assert (event["id"], event["type"], event["subject"]) == (
        accepted_id(placed), ACCEPTED, placed.data["order_id"])
    assert event.data == {"order_id": placed.data["order_id"], "currency": "EUR", "items": 2,
                          "total": "5.10"}


# -- SQS in, Azure Storage queue out ------------------------------------------------------------


def test_sqs_orders_are_accepted_once_and_published_to_an_azure_queue(
        moto_server: MotoServer, boto: Any, unique: Any, azurite_env: Azurite,
        queue_service: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sqs = boto("sqs")
    orders = Queue(sqs, sqs.create_queue(QueueName=unique("orders"))["QueueUrl"])
    accepted = queue_service.create_queue(unique("accepted"))
    letters = f"sqs://{unique('letters')}?create=true&wait=0"
    environment = {"ORDERS_PUBLISH_TO": f"azqueue://{accepted.queue_name}",
                   "PORTABLE_DLQ": letters}
    mapping = EventSourceMapping(orders, wrapper("orders", "aws", monkeypatch,
                                                 **environment).lambda_handler)
    placed, empty = order("o-1"), order("o-2", items=[])
    for event in (placed, empty, placed):  # the first order is sent twice
        aws.publish(event, orders.url)
    mapping.drain()

    [message] = accepted.receive_messages()
    [event] = azure.to_cloudevents(_host.queue_message(base64.b64decode(message.content)))
    check_accepted(event, placed)
    [letter] = SQSSink.from_url(letters).list()
    assert letter.cloudevent() == empty and "has no items" in letter.error["message"]

    # The handler runs again for the same order (its completion was lost: a fresh store): the
    # same event is published again, so the consumer's idempotency store drops it.
    rerun = EventSourceMapping(orders, wrapper("orders", "aws", monkeypatch,
                                               **environment).lambda_handler)
    aws.publish(placed, orders.url)
    rerun.drain()
    [again] = [azure.to_cloudevents(_host.queue_message(base64.b64decode(m.content)))[0]
               for m in accepted.receive_messages() if m.id != message.id]
    # The same event, but for its trace: a traced re-run is a new span of the trace.
    untraced = ("traceparent", "tracestate")
    assert {k: v for k, v in again.get_attributes().items() if k not in untraced} == {
        k: v for k, v in event.get_attributes().items() if k not in untraced}
    assert again.data == event.data


# -- Azure Storage queue in, Pub/Sub out --------------------------------------------------------


@pytest.fixture
def topic(pubsub_env: str) -> Iterator[tuple[str, str]]:
    """A topic of the test's own and a subscription on it: (topic, subscription)."""
    from google.cloud import pubsub_v1

    name = uuid.uuid4().hex[:12]
    topic = f"projects/{PROJECT}/topics/accepted-{name}"
    subscription = f"projects/{PROJECT}/subscriptions/accepted-{name}"
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    publisher.create_topic(request={"name": topic})
    subscriber.create_subscription(request={"name": subscription, "topic": topic})
    yield topic, subscription
    subscriber.close()


def pulled(subscription: str) -> list[CloudEvent]:
    from google.cloud import pubsub_v1

    with pubsub_v1.SubscriberClient() as subscriber:
        response = subscriber.pull(request={"subscription": subscription, "max_messages": 10},
                                   timeout=10)
    return [event for received in response.received_messages
            for event in gcp.to_cloudevents(received.message, subscription=subscription)]


def test_azure_queue_orders_are_accepted_and_published_to_pubsub(
        azurite_env: Azurite, queue_service: Any, topic: tuple[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    function_app = wrapper("orders", "azure", monkeypatch,
                           ORDERS_PUBLISH_TO=f"pubsub://{topic[0]}")
    functions = _host.index(function_app.app)
    assert functions["portable_queue"].trigger["queueName"] == "orders"
    queue = _hosting.existing(queue_service.get_queue_client("orders"))
    queue.clear_messages()
    host = _hosting.QueueHost(queue, functions["portable_queue"], queue_service)
    placed = order("o-3")
    azure.publish(placed, "azqueue://orders")
    azure.publish(order("o-4", items=[{"sku": "tea", "quantity": 0, "price": 1}]),
                  "azqueue://orders")
    host.drain()

    [event] = pulled(topic[1])  # the invalid order published nothing
    check_accepted(event, placed)
    assert [count for _, count in host.dequeues] == [1, 1]  # neither was retried


# -- Pub/Sub push and Eventarc in, SQS out ------------------------------------------------------


def test_pubsub_orders_are_accepted_and_published_to_sqs(
        moto_server: MotoServer, boto: Any, unique: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sqs = boto("sqs")
    name = unique("accepted")
    accepted = Queue(sqs, sqs.create_queue(QueueName=name)["QueueUrl"])
    destination = {"ORDERS_PUBLISH_TO": f"sqs://sqs.{REGION}.amazonaws.com/123456789012/{name}"}

    client = served("orders", "push", monkeypatch, **destination)
    placed = order("o-5")
    message = gcp.from_cloudevent(placed)
    first = push(client, message.data, message.attributes, message_id="m-1")
    assert (first.status_code, first.json) == (200, {"events": 1, "processed": 1})
    [event] = aws.to_cloudevents(accepted.receive_one())
    check_accepted(event, placed)
    again = push(client, message.data, message.attributes, message_id="m-1", attempt=2)
    assert again.json == {"events": 1, "duplicate": 1}
    invalid = gcp.from_cloudevent(order("o-6", items=[{"sku": "tea", "price": -1}]))
    assert push(client, invalid.data, invalid.attributes).json == {"events": 1,
                                                                   "dead_lettered": 1}

    # Eventarc's Pub/Sub trigger: the messagePublished event of the message carrying the order.
    main = served("orders", "main", monkeypatch, **destination)
    placed = order("o-7", source="//eventarc/test")
    message = gcp.from_cloudevent(placed)
    published = new_event({
        "id": "3103425958877813", "type": "google.cloud.pubsub.topic.v1.messagePublished",
        "source": f"//pubsub.googleapis.com/projects/{PROJECT}/topics/orders",
        "datacontenttype": "application/json"},
        {"subscription": f"projects/{PROJECT}/subscriptions/eventarc", "message": {
            "data": base64.b64encode(message.data).decode(), "attributes": message.attributes,
            "messageId": "3103425958877813", "publishTime": "2026-05-01T10:00:00Z"}})
    assert eventarc(main, published).status_code == 200
    [event] = aws.to_cloudevents(accepted.receive_one())
    check_accepted(event, placed)
    assert accepted.counts() == (0, 0)  # the duplicate and the invalid order sent nothing


# -- locally ------------------------------------------------------------------------------------


def test_a_local_serve_publishes_to_the_outbox_folder(tmp_path: Path) -> None:
    server = Server(app, store="memory://", dlq=MemorySink())
    placed = order("o-8")
    body = to_json(placed).encode()
    headers = {"content-type": "application/cloudevents+json"}
    for _ in range(2):  # delivered twice, published once
        status, answer = server.handle("POST", headers, lambda limit: body)
        assert status == 200
    assert [r["outcome"] for r in answer["results"]] == ["duplicate"]
    [published] = (tmp_path / ".portable" / "outbox").iterdir()
    event = from_json(published.read_text())
    check_accepted(event, placed)
    assert published.name == f"{event['id']}.json"


@pytest.mark.parametrize(("items", "problem"), [
    ([], "has no items"),
    ([{"sku": "tea", "price": 1, "quantity": 1.5}], "quantity must be a whole number"),
    ([{"sku": "tea", "price": "cheap"}], "is not a number"),
    ([{"sku": "tea", "price": "NaN"}], "must be zero or more"),
    (["tea"], "is not an object"),
])
def test_invalid_orders_are_dead_lettered_at_once(items: list[Any], problem: str,
                                                  tmp_path: Path) -> None:
    pipeline = Pipeline(app, store="memory://", dlq=MemorySink(), retry=3)
    result = pipeline.process(order("bad", items=items))
    assert (result.outcome, result.attempt) == (Outcome.DEAD_LETTERED, 1)
    assert problem in pipeline.sink.list()[0].error["message"]
    assert not (tmp_path / ".portable" / "outbox").exists()


def test_totals_are_exact_and_an_unknown_destination_is_retried(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = Pipeline(app, store="memory://", dlq=MemorySink(), retry=1)
    cents = order("o-9", items=[{"sku": "x", "price": 0.1, "quantity": 3}])
    assert Decimal(pipeline.process(cents).value["total"]) == Decimal("0.3")
    monkeypatch.setenv("ORDERS_PUBLISH_TO", "kafka://broker/orders")
    result = Pipeline(app, store="memory://", dlq=MemorySink(), retry=1).process(cents)
    assert result.outcome == Outcome.RETRY and "unknown destination" in str(result.error)
    assert result.event_id == cents["id"]
