"""CloudEvents out to Pub/Sub by the CloudEvents Pub/Sub binding, and the round trip law: an
event published through gcp egress and received through gcp ingress is the same event."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from cloudevents.http import CloudEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import gcp
from adapters.gcp.egress import MAX_VALUE_BYTES, Message
from portable import ConfigurationError, MalformedEventError, new_event
from portable._events import to_structured
from tests.gcp.contract_backends import PROJECT


def order(**attributes: Any) -> CloudEvent:
    return new_event({"id": "A234-1234-5678-9ABC", "source": "/orders/service",
                      "type": "com.example.order.created", "subject": "order-12345",
                      "time": "2026-11-28T20:13:44.271Z", "datacontenttype": "application/json",
                      **attributes}, {"orderId": "order-12345", "items": [{"sku": "A1"}]})


def push_envelope(message: Message, message_id: str = "1") -> dict[str, Any]:
    """The body Pub/Sub pushes for ``message``."""
    return {"message": {"data": base64.b64encode(message.data).decode(),
                        "attributes": message.attributes, "messageId": message_id,
                        "publishTime": "2026-11-28T20:13:44.271Z"},
            "subscription": f"projects/{PROJECT}/subscriptions/orders-push"}


# -- the binding (pure) ----------------------------------------------------------------------

def test_binary_mode_carries_attributes_as_ce_attributes_and_the_data_as_is() -> None:
    message = gcp.from_cloudevent(order(tenant="acme"))
    assert message.attributes == {
        "ce-specversion": "1.0", "ce-id": "A234-1234-5678-9ABC", "ce-source": "/orders/service",
        "ce-type": "com.example.order.created", "ce-subject": "order-12345",
        "ce-time": "2026-11-28T20:13:44.271Z", "ce-tenant": "acme",
        "content-type": "application/json"}
    assert json.loads(message.data) == {"orderId": "order-12345", "items": [{"sku": "A1"}]}


def test_structured_mode_carries_the_json_event_format() -> None:
    event = order()
    message = gcp.from_cloudevent(event, mode="structured")
    assert message.attributes == {"content-type": "application/cloudevents+json"}
    assert json.loads(message.data) == to_structured(event)


def test_binary_mode_without_data_sends_an_empty_message_body() -> None:
    event = new_event({"id": "1", "source": "/s", "type": "com.example.ping"})
    message = gcp.from_cloudevent(event)
    assert message.data == b"" and "content-type" not in message.attributes
    assert gcp.to_cloudevents(push_envelope(message)) == [event]


def test_an_attribute_pubsub_cannot_hold_is_refused_with_the_way_out() -> None:
    event = order(subject="x" * (MAX_VALUE_BYTES + 1))
    with pytest.raises(MalformedEventError, match="1024.*mode='structured'"):
        gcp.from_cloudevent(event)
    assert json.loads(gcp.from_cloudevent(event, "structured").data)["subject"] == "x" * 1025


def test_more_attributes_than_a_message_holds_are_refused() -> None:
    event = order(**{f"ext{n}": "v" for n in range(100)})
    with pytest.raises(MalformedEventError, match="at most 100"):
        gcp.from_cloudevent(event)


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="'binary' or 'structured'"):
        gcp.from_cloudevent(order(), "batch")  # type: ignore[arg-type]


# -- generated events ------------------------------------------------------------------------

NAMES = st.from_regex(r"[a-z][a-z0-9]{0,19}", fullmatch=True).filter(
    lambda name: name not in {"id", "source", "type", "specversion", "datacontenttype",
                              "dataschema", "subject", "time", "data"})
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=10)
# (datacontenttype, data) pairs that binary mode can carry: JSON for JSON types, text for
# text/*, bytes for other types; with no content type, JSON objects.
CONTENT = st.one_of(
    st.tuples(st.sampled_from(["application/json", "application/vnd.order+json"]), JSON),
    st.tuples(st.just("text/plain; charset=utf-8"), TEXT),
    st.tuples(st.just("application/octet-stream"), st.binary(min_size=1, max_size=64)),
    st.tuples(st.none(), st.dictionaries(st.text(max_size=5), JSON, min_size=1, max_size=3)),
)
TIMES = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1),
                     timezones=st.just(UTC)).map(lambda t: t.isoformat().replace("+00:00", "Z"))


@st.composite
def cloudevents(draw: st.DrawFn) -> CloudEvent:
    content_type, data = draw(CONTENT)
    attributes = {"id": draw(TEXT), "source": draw(TEXT), "type": draw(TEXT),
                  "datacontenttype": content_type,
                  "subject": draw(st.none() | TEXT), "time": draw(st.none() | TIMES),
                  "dataschema": draw(st.none() | st.just("https://example.com/order.json")),
                  **draw(st.dictionaries(NAMES, TEXT, max_size=4))}
    return new_event(attributes, data)


@settings(max_examples=150, deadline=None)
@given(cloudevents())
def test_round_trip_through_a_push_request(event: CloudEvent) -> None:
    assert gcp.to_cloudevents(push_envelope(gcp.from_cloudevent(event))) == [event]


# -- through the Pub/Sub emulator ------------------------------------------------------------

@pytest.fixture
def topic(pubsub_env: str) -> Iterator[tuple[str, str]]:
    """A topic and a pull subscription on it."""
    from google.cloud import pubsub_v1

    name = uuid.uuid4().hex[:12]
    topic, subscription = (f"projects/{PROJECT}/topics/egress-{name}",
                           f"projects/{PROJECT}/subscriptions/egress-{name}")
    gcp.egress.default_publisher().create_topic(request={"name": topic})
    subscriber = pubsub_v1.SubscriberClient()
    subscriber.create_subscription(request={"name": subscription, "topic": topic})
    yield topic, subscription
    subscriber.close()


def receive(subscription: str) -> Any:
    """The next message on ``subscription``, acknowledged."""
    from google.cloud import pubsub_v1

    with pubsub_v1.SubscriberClient() as subscriber:
        while True:
            response = subscriber.pull(request={"subscription": subscription,
                                                "max_messages": 1}, timeout=10)
            if response.received_messages:
                [received] = response.received_messages
                subscriber.acknowledge(request={"subscription": subscription,
                                                "ack_ids": [received.ack_id]})
                return received.message


@settings(max_examples=25, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(event=cloudevents())
def test_round_trip_through_the_pubsub_emulator(topic: tuple[str, str], event: CloudEvent) -> None:
    message_id = gcp.publish(event, topic[0])
    message = receive(topic[1])
    assert message.message_id == message_id
    assert gcp.to_cloudevents(message, subscription=topic[1]) == [event]


def test_structured_round_trip_through_the_pubsub_emulator(topic: tuple[str, str]) -> None:
    event = order()
    gcp.publish(event, topic[0], mode="structured")
    assert gcp.to_cloudevents(receive(topic[1]), subscription=topic[1]) == [event]


def test_publishing_to_a_missing_topic_says_what_to_create(pubsub_env: str) -> None:
    missing = f"projects/{PROJECT}/topics/never-created-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ConfigurationError, match=f"{missing}: NOT_FOUND: it does not exist"):
        gcp.publish(order(), missing)
