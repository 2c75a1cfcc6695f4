"""CloudEvents out to SQS, SNS and EventBridge: the message shapes, and the round trip law
against moto (published with ``aws.publish``, received as Lambda receives it, read back with
``aws.to_cloudevents``)."""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import pytest
from cloudevents.http import CloudEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import aws
from adapters.aws import _sqs
from adapters.aws.egress import Destination
from portable import PermanentError, new_event
from tests.aws.emulator import ACCOUNT, MotoServer
from tests.aws.mapping import Queue

BASE = {"id": "order-1", "source": "/shop/orders", "type": "com.example.order.created"}


def event(data: Any = None, **attributes: Any) -> CloudEvent:
    return new_event({**BASE, **attributes}, data)


# -- message shapes ----------------------------------------------------------------------------

def test_a_small_json_event_goes_in_binary_mode() -> None:
    message = aws.from_cloudevent(event({"total": 3}, datacontenttype="application/json",
                                        subject="order 1"))
    assert message == {
        "MessageBody": '{"total":3}',
        "MessageAttributes": {
            name: {"DataType": "String", "StringValue": value} for name, value in {
                "ce-id": "order-1", "ce-source": "/shop/orders",
                "ce-type": "com.example.order.created", "ce-specversion": "1.0",
                "ce-subject": "order 1", "content-type": "application/json"}.items()},
    }


def test_sns_messages_carry_the_same_body_and_attributes() -> None:
    sqs = aws.from_cloudevent(event("hello", datacontenttype="text/plain"), "sqs")
    sns = aws.from_cloudevent(event("hello", datacontenttype="text/plain"), "sns")
    assert sns == {"Message": sqs["MessageBody"], "MessageAttributes": sqs["MessageAttributes"]}
    assert sns["Message"] == "hello"


STRUCTURED_CASES = {
    "bytes data": event(b"\x00\xff", datacontenttype="application/octet-stream"),
    "no data": event(None),
    "an integer extension": event({"a": 1}, priority=5),
    "a boolean extension": event({"a": 1}, urgent=True),
    "an empty subject": event({"a": 1}, subject=""),
    "a character SQS refuses": event({"a": 1}, subject="bad \x00 byte"),
    "text that would read back as JSON": event("123"),
    "JSON data declared as text": event({"a": 1}, datacontenttype="text/plain"),
    "eleven attributes": event({"a": 1}, **{f"ext{n}": "x" for n in range(7)}),
    "over 256 KiB": event("x" * 262_144, datacontenttype="text/plain"),
}


@pytest.mark.parametrize("case", STRUCTURED_CASES.values(), ids=STRUCTURED_CASES.keys())
def test_events_binary_mode_cannot_carry_go_structured(case: CloudEvent) -> None:
    message = aws.from_cloudevent(case)
    assert message["MessageAttributes"] == {
        "content-type": {"DataType": "String", "StringValue": "application/cloudevents+json"}}
    assert aws.to_cloudevents(json.loads(message["MessageBody"])) == [case]


def test_structured_bodies_escape_what_sqs_refuses_and_keep_the_rest() -> None:
    body = aws.from_cloudevent(event({"name": "żółw \uffff"}))["MessageBody"]
    assert _sqs.valid_text(body)
    assert "\\uffff" in body and "\\u017c" in body  # both escaped: the text holds U+FFFF
    assert aws.from_cloudevent(event({"name": "żółw"}))["MessageBody"] == '{"name":"żółw"}'


@pytest.mark.parametrize(("name", "valid"), [
    ("ce-id", True), ("content-type", True), ("a.b_c-d", True), ("x" * 256, True),
    ("", False), (".lead", False), ("trail.", False), ("a..b", False), ("AWS.x", False),
    ("amazon.x", False), ("sp ace", False), ("x" * 257, False), ("é", False),
])
def test_attribute_names_follow_aws_rules(name: str, valid: bool) -> None:
    assert _sqs.valid_name(name) is valid


def test_fifo_messages_get_a_group_and_a_deduplication_id_per_event() -> None:
    first = aws.from_cloudevent(event({"a": 1}), group="orders")
    again = aws.from_cloudevent(event({"a": 2}), group="orders")
    other = aws.from_cloudevent(event({"a": 1}, id="order-2"), group="orders")
    assert first["MessageGroupId"] == "orders"
    assert first["MessageDeduplicationId"] == again["MessageDeduplicationId"]
    assert first["MessageDeduplicationId"] != other["MessageDeduplicationId"]


def test_an_eventbridge_entry_carries_the_structured_event_as_detail() -> None:
    entry = aws.from_cloudevent(event({"a": 1}, time="2026-01-02T03:04:05.678Z"), "eventbridge")
    assert (entry["Source"], entry["DetailType"]) == ("/shop/orders", "com.example.order.created")
    assert entry["Time"].isoformat() == "2026-01-02T03:04:05.678000+00:00"
    detail = json.loads(entry["Detail"])
    assert detail["id"] == "order-1" and detail["data"] == {"a": 1}


@pytest.mark.parametrize("attributes", [{"source": "aws.s3"}, {"source": "s" * 257},
                                        {"type": "t" * 129}])
def test_eventbridge_refuses_what_putevents_would(attributes: dict[str, str]) -> None:
    with pytest.raises(PermanentError, match="cannot go to EventBridge"):
        aws.from_cloudevent(event({"a": 1}, **attributes), "eventbridge")


@pytest.mark.parametrize(("destination", "target", "region", "fifo"), [
    ("https://sqs.eu-west-1.amazonaws.com/123456789012/orders", "sqs", "eu-west-1", False),
    ("http://127.0.0.1:5000/123456789012/orders.fifo", "sqs", None, True),
    ("arn:aws:sqs:us-east-2:123456789012:orders.fifo", "sqs", "us-east-2", True),
    ("arn:aws:sns:us-east-1:123456789012:orders", "sns", "us-east-1", False),
    ("arn:aws:events:eu-central-1:123456789012:event-bus/default", "eventbridge",
     "eu-central-1", False),
])
def test_publish_destinations(destination: str, target: str, region: str | None,
                              fifo: bool) -> None:
    assert Destination.parse(destination) == Destination(target, destination, region, fifo)  # type: ignore[arg-type]


@pytest.mark.parametrize("destination", ["orders", "arn:aws:lambda:us-east-1:1:function:f",
                                         "s3://bucket"])
def test_publish_names_what_it_accepts(destination: str) -> None:
    with pytest.raises(ValueError, match="expected an SQS queue URL"):
        Destination.parse(destination)


# -- the round trip law, against moto ----------------------------------------------------------

NAMES = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=20).filter(
    lambda name: name not in {"id", "source", "type", "specversion", "datacontenttype",
                              "dataschema", "subject", "time", "data"})
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=10)
DATA = st.one_of(
    st.tuples(st.sampled_from([None, "application/json", "application/vnd.order+json"]),
              JSON_VALUES),
    st.tuples(st.sampled_from(["text/plain", "text/csv; charset=utf-8"]), st.text(max_size=60)),
    st.tuples(st.sampled_from([None, "application/octet-stream"]), st.binary(max_size=60)),
    st.tuples(st.none(), st.none()),
)


ANY_TEXT = st.text(min_size=1, max_size=40) | st.text(
    st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40)  # binary-mode fit
# moto splices source and detail-type into a JSON template without escaping them (EventBridge
# itself takes any text): keep quotes, backslashes, control characters and "<" out of them.
MOTO_EVENTBRIDGE_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs"),
                                              blacklist_characters='"\\<'),
                                min_size=1, max_size=40)


@st.composite
def cloudevents(draw: st.DrawFn, routing: st.SearchStrategy[str] = ANY_TEXT) -> CloudEvent:
    content_type, data = draw(DATA)
    extensions = {**draw(st.dictionaries(NAMES, st.text(max_size=20), max_size=3)),
                  **draw(st.dictionaries(NAMES, st.booleans() | st.integers(-(2**31), 2**31 - 1),
                                         max_size=1))}
    optional = {
        "subject": draw(st.none() | st.text(max_size=30)),
        "time": draw(st.none() | st.datetimes(timezones=st.just(UTC)).map(
            lambda moment: moment.isoformat().replace("+00:00", "Z"))),
        "dataschema": draw(st.none() | st.just("https://example.com/schema.json")),
        "datacontenttype": content_type,
    }
    return new_event({"id": draw(ANY_TEXT), "source": draw(routing), "type": draw(routing),
                      **optional, **extensions}, data)


@dataclass
class Wiring:
    """A queue, and a topic delivering to one queue in raw mode and one in envelopes."""

    queue: Queue
    topic_arn: str
    raw: Queue
    enveloped: Queue
    subscription_arn: str
    bus_arn: str
    from_bus: Queue


@pytest.fixture(scope="module")
def wiring(moto_server: MotoServer) -> Iterator[Wiring]:
    import boto3

    session = boto3.session.Session()
    sqs, sns, events = (session.client(name) for name in ("sqs", "sns", "events"))

    def queue(name: str) -> Queue:
        return Queue(sqs, sqs.create_queue(QueueName=name)["QueueUrl"])

    main, raw, enveloped, from_bus = (queue(f"egress-{name}")
                                      for name in ("main", "raw", "enveloped", "bus"))
    topic = sns.create_topic(Name="egress-topic")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw.arn,
                  Attributes={"RawMessageDelivery": "true"})
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=enveloped.arn,
                                 ReturnSubscriptionArn=True)["SubscriptionArn"]
    bus = events.create_event_bus(Name="egress-bus")["EventBusArn"]
    events.put_rule(Name="all", EventBusName="egress-bus",
                    EventPattern=json.dumps({"account": [ACCOUNT]}))
    events.put_targets(Rule="all", EventBusName="egress-bus",
                       Targets=[{"Id": "queue", "Arn": from_bus.arn}])
    yield Wiring(main, topic, raw, enveloped, subscription, bus, from_bus)


def sns_lambda_event(envelope: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """What Lambda receives from an SNS subscription: the envelope SNS -> SQS also carries."""
    return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                         "EventSubscriptionArn": subscription_arn, "Sns": envelope}]}


ROUND_TRIP = settings(max_examples=30, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])


@ROUND_TRIP
@given(original=cloudevents())
def test_an_event_published_to_sqs_is_received_as_the_same_event(
    wiring: Wiring, original: CloudEvent
) -> None:
    aws.publish(original, wiring.queue.url)
    assert aws.to_cloudevents(wiring.queue.receive_one()) == [original]


@ROUND_TRIP
@given(original=cloudevents())
def test_an_event_published_to_sns_is_received_as_the_same_event_every_way(
    wiring: Wiring, original: CloudEvent
) -> None:
    aws.publish(original, wiring.topic_arn)
    raw = wiring.raw.receive_one()
    enveloped = wiring.enveloped.receive_one()
    envelope = json.loads(enveloped["Records"][0]["body"])
    assert aws.to_cloudevents(raw) == [original]  # SNS -> SQS, raw message delivery
    assert aws.to_cloudevents(enveloped) == [original]  # SNS -> SQS, in the SNS envelope
    assert aws.to_cloudevents(sns_lambda_event(envelope, wiring.subscription_arn)) == [original]


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(original=cloudevents(MOTO_EVENTBRIDGE_TEXT).filter(
    lambda ev: not ev["source"].lower().startswith("aws.")))
def test_an_event_put_on_an_eventbridge_bus_is_received_as_the_same_event(
    wiring: Wiring, original: CloudEvent
) -> None:
    aws.publish(original, wiring.bus_arn)
    received = wiring.from_bus.receive_one()
    delivered = json.loads(received["Records"][0]["body"])
    assert (delivered["source"], delivered["detail-type"]) == (original["source"],
                                                               original["type"])
    assert aws.to_cloudevents(received) == [original]  # EventBridge -> SQS
    assert aws.to_cloudevents(delivered) == [original]  # EventBridge -> Lambda


def test_publishing_to_a_fifo_queue_by_arn_drops_a_resent_event(
    moto_server: MotoServer, boto: Any, unique: Any
) -> None:
    sqs = boto("sqs")
    name = unique("orders") + ".fifo"
    url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"
    first = event({"n": 1})
    aws.publish(first, arn)
    aws.publish(first, arn)  # the producer re-sends it
    aws.publish(event({"n": 2}, id="order-2"), arn)
    received = Queue(sqs, url).receive()
    assert [m["Attributes"]["MessageGroupId"] for m in received] == [
        received[0]["Attributes"]["MessageGroupId"]] * 2
    assert [aws.to_cloudevents(Queue(sqs, url).lambda_event([m]))[0]["id"]
            for m in received] == ["order-1", "order-2"]


def test_publishing_to_a_missing_queue_is_a_configuration_error(moto_server: MotoServer) -> None:
    from portable import ConfigurationError

    with pytest.raises(ConfigurationError, match="publishing to"):
        aws.publish(event({"a": 1}), f"arn:aws:sqs:us-east-1:{ACCOUNT}:no-such-queue")
