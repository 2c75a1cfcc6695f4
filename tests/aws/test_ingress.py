"""AWS payloads -> CloudEvents: every real fixture, the S3 type tables, keys of any characters,
and the shapes AWS documents beyond the fixtures (FIFO, multi-object deletes, CloudEvents
carried in SQS/SNS/EventBridge messages)."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.aws import ingress, to_cloudevents
from adapters.aws._s3 import EVENTBRIDGE_NAMES
from portable import MalformedEventError, new_event, storage, to_structured
from portable._events import to_binary
from tests.conftest import FIXTURES, fixture

AWS_EVENT_FIXTURES = sorted(
    p.name for p in (FIXTURES / "aws").glob("*.json")
    if p.name != "sqs_batch_item_failures_response.json"  # a handler's answer, not an event
)


def only(payload: Any) -> Any:
    events = to_cloudevents(payload)
    assert len(events) == 1, events
    return events[0]


def s3_record_of(name: str) -> dict[str, Any]:
    """The S3 record inside a fixture, however deeply it is wrapped."""
    payload = fixture(name)
    record = payload["Records"][0]
    if "body" in record:
        record = json.loads(record["body"])
        if "Message" in record:
            record = json.loads(record["Message"])
        record = record["Records"][0]
    elif "Sns" in record:
        record = json.loads(record["Sns"]["Message"])["Records"][0]
    return record  # type: ignore[no-any-return]


# -- every fixture ----------------------------------------------------------------------------

def test_every_event_fixture_converts_to_valid_cloudevents() -> None:
    for name in AWS_EVENT_FIXTURES:
        for event in to_cloudevents(fixture(f"aws/{name}")):
            assert event["specversion"] == "1.0"
            assert event["id"] and event["source"] and event["type"], name


S3_NOTIFICATIONS = [
    # fixture, id, source, type, subject, time
    ("s3_object_created_put.json",
     "D82B88E5F771F645.vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo="
     ".0C0F6F405D6ED209E1",
     "aws:s3.us-east-2.lambda-artifacts-deafc19498e3f2df", "ObjectCreated:Put",
     "b21b84d653bb07b05b1e6b33684dc11b", "2019-09-03T19:37:27.192Z"),
    ("s3_object_created_put_docs.json",
     "C3D13FE58DE4C810.FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"
     ".0055AED6DCD90281E5",
     "aws:s3.us-west-2.mybucket", "ObjectCreated:Put", "HappyFace.jpg",
     "1970-01-01T00:00:00.000Z"),
    ("s3_object_created_put_urlencoded_key.json",
     "C3D13FE58DE4C810.FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"
     ".Happy Sequencer",
     "aws:s3.us-east-1.sourcebucket", "ObjectCreated:Put", "Happy Face.jpg",
     "1970-01-01T00:00:00.123Z"),
    ("s3_object_removed_delete.json",
     "D82B88E5F771F645.vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo="
     ".0C0F6F405D6ED209E1",
     "aws:s3.us-east-2.lambda-artifacts-deafc19498e3f2df", "ObjectRemoved:Delete",
     "b21b84d653bb07b05b1e6b33684dc11b", "2019-09-03T19:37:27.192Z"),
    ("s3_via_sqs.json",
     "YMSSR8BZJ2Y99K6P.6ASrUfj5xpn859fIq+6FXflOex/SKl/rjfiMd7wRzMg/zkHKR22PDpnh7KD3uq//cuOTbdX4DInN5e"
     "Is+cR0dY1z2Mc5NDP/.00643717F9F8B85354",
     "aws:s3.us-east-1.xxx", "ObjectCreated:Put", "test.pdf", "2023-04-12T20:43:38.021Z"),
    ("s3_via_sqs_captured.json",
     "ST581J3PW8R8QKVP.bvl3TX3qzBFUe+/0IZNjrCdVI2GfhEAjJDg4G8JxVnT1MNNPlf/BckKG9cAGzenBbZLh72nKxg9KMq"
     "Yg3+/tg4kpKFhWWi2h.0065F349D4F05B5827",
     "aws:s3.us-east-1.sqs-s3-unwrap-bucket-683517028648", "ObjectCreated:Put", "samconfig.toml",
     "2024-03-14T19:02:45.087Z"),
    ("s3_via_sns.json",
     "53YYXE4TACR6K89G.9jBkdIPJOx97diPIdSkVi3kpoo9d6qk1W11iL4ZIQMJgQm9rbdsywKE3NgkKpDm43RU7sASksILzYl"
     "M8rhX/bGncoqXwUQ5L.0065F3718D39E6D6DC",
     "aws:s3.us-east-1.s3-sns-unwrap-bucket-683517028648", "ObjectCreated:Put", "samconfig.toml",
     "2024-03-14T21:52:13.311Z"),
    ("s3_via_sns_sqs.json",
     "02TFARRDG75KXGG6.ZUztk9/z3GbDxV5zE9Q8sN0Hg4LG7axcMUgZ2DWj/bXr2NY5zwFTB6kx2GDHiFtkcejqGJPlbOyWTr"
     "wZ0V5P8oHD6b3oS6eF.0065FA0B4B104A6DAB",
     "aws:s3.us-west-2.unwraptestevents-bucket-683517028648", "ObjectCreated:Put",
     "firehose-s3-template.json", "2024-03-19T22:01:47.135Z"),
    ("s3_via_sns_sqs_raw_delivery.json",
     "HQDSXXWNQWRCN3PQ.EVDoeOaTHawmKSqzPnBHMZNHvWnnHKfAl9Muyg21meD3KvREXeNTC9qdV6ZyJQs1hfKJ+sfUp5koqc"
     "3GeAziHnl0UQGDa3CF.0065FA186CC08E810D",
     "aws:s3.us-west-2.unwraptestevents-bucket-683517028648", "ObjectCreated:Put",
     "samconfig.toml", "2024-03-19T22:57:48.823Z"),
]


@pytest.mark.parametrize(("name", "event_id", "source", "name_", "subject", "time"),
                         S3_NOTIFICATIONS, ids=[row[0] for row in S3_NOTIFICATIONS])
def test_s3_notifications_follow_the_cncf_mapping(name: str, event_id: str, source: str,
                                                  name_: str, subject: str, time: str) -> None:
    event = only(fixture(f"aws/{name}"))
    assert event["id"] == event_id
    assert event["source"] == source
    assert event["type"] == f"com.amazonaws.s3.{name_}"
    assert event["subject"] == subject
    assert event["time"] == time
    assert event["datacontenttype"] == "application/json"
    assert event.get_data() == s3_record_of(f"aws/{name}")


@pytest.mark.parametrize(("name", "action", "bucket", "key", "size", "version", "sequencer"), [
    ("s3_object_created_put.json", storage.CREATED, "lambda-artifacts-deafc19498e3f2df",
     "b21b84d653bb07b05b1e6b33684dc11b", 1305107, None, "0C0F6F405D6ED209E1"),
    ("s3_object_created_put_docs.json", storage.CREATED, "mybucket", "HappyFace.jpg", 1024,
     "096fKKXTRTtl3on89fVO.nfljtsv6qko", "0055AED6DCD90281E5"),
    ("s3_object_created_put_urlencoded_key.json", storage.CREATED, "sourcebucket",
     "Happy Face.jpg", 1024, "version", "Happy Sequencer"),
    ("s3_object_removed_delete.json", storage.DELETED, "lambda-artifacts-deafc19498e3f2df",
     "b21b84d653bb07b05b1e6b33684dc11b", None, None, "0C0F6F405D6ED209E1"),
    ("s3_via_sqs.json", storage.CREATED, "xxx", "test.pdf", 104681,
     "yd3d4HaWOT2zguDLvIQLU6ptDTwKBnQV", "00643717F9F8B85354"),
    ("s3_via_sns_sqs.json", storage.CREATED, "unwraptestevents-bucket-683517028648",
     "firehose-s3-template.json", 4314, None, "0065FA0B4B104A6DAB"),
    ("s3_eventbridge_object_created_docs.json", storage.CREATED, "DOC-EXAMPLE-BUCKET1",
     "example-key", 5, "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e", "617f08299329d189"),
    ("s3_eventbridge_object_deleted.json", storage.DELETED, "example-bucket", "IMG_m7fzo3.jpg",
     None, None, "006408CAD69598B05E"),
    ("s3_eventbridge_object_deleted_lifecycle_docs.json", storage.DELETED, "DOC-EXAMPLE-BUCKET1",
     "example-key", None, "mtB0cV.jejK63XkRNceanNMC.qXPWLeK", "617b398000000000"),
    ("s3_eventbridge_via_sqs.json", storage.CREATED, "s3-eb-unwrap-sourcebucket-7mop1gqlyrzu",
     "__init__.py", 0, None, "0066030E82E2A48DFE"),
])
def test_s3_events_give_the_storage_view(name: str, action: str, bucket: str, key: str,
                                         size: int | None, version: str | None,
                                         sequencer: str) -> None:
    obj = storage.object_event(only(fixture(f"aws/{name}")))
    assert (obj.provider, obj.action, obj.bucket, obj.key) == ("aws", action, bucket, key)
    assert (obj.size, obj.version, obj.sequencer) == (size, version, sequencer)
    assert obj.url == f"s3://{bucket}/{key}"


S3_EVENTBRIDGE = [
    # fixture, id, source, type, subject, time
    ("s3_eventbridge_object_created.json", "f5f1e65c-dc3a-93ca-6c1e-b1647eac7963",
     "aws:s3.eu-west-1.example-bucket", "ObjectCreated:Put", "IMG_m7fzo3.jpg",
     "2023-03-08T17:50:14Z"),
    ("s3_eventbridge_object_created_captured.json", "78eac3e6-798f-c27e-49ec-bbe3be7bab7d",
     "aws:s3.us-east-1.s3-eb-unwrap-sourcebucket-7mop1gqlyrzu", "ObjectCreated:Put",
     "s3-eb-template.yaml", "2024-03-20T23:56:16Z"),
    ("s3_eventbridge_object_created_docs.json", "17793124-05d4-b198-2fde-7ededc63b103",
     "aws:s3.ca-central-1.DOC-EXAMPLE-BUCKET1", "ObjectCreated:Put", "example-key",
     "2021-11-12T00:00:00Z"),
    ("s3_eventbridge_object_deleted.json", "2ee9cc15-d022-99ea-1fb8-1b1bac4850f9",
     "aws:s3.ca-central-1.example-bucket", "ObjectRemoved:DeleteMarkerCreated", "IMG_m7fzo3.jpg",
     "2021-11-12T00:00:00Z"),
    ("s3_eventbridge_object_deleted_docs.json", "2ee9cc15-d022-99ea-1fb8-1b1bac4850f9",
     "aws:s3.ca-central-1.DOC-EXAMPLE-BUCKET1", "ObjectRemoved:DeleteMarkerCreated",
     "example-key", "2021-11-12T00:00:00Z"),
    ("s3_eventbridge_object_deleted_lifecycle_docs.json", "ad1de317-e409-eba2-9552-30113f8d88e3",
     "aws:s3.ca-central-1.DOC-EXAMPLE-BUCKET1", "LifecycleExpiration:DeleteMarkerCreated",
     "example-key", "2021-11-12T00:00:00Z"),
]


@pytest.mark.parametrize(("name", "event_id", "source", "name_", "subject", "time"),
                         S3_EVENTBRIDGE, ids=[row[0] for row in S3_EVENTBRIDGE])
def test_s3_via_eventbridge_is_typed_as_the_notification(name: str, event_id: str, source: str,
                                                         name_: str, subject: str,
                                                         time: str) -> None:
    payload = fixture(f"aws/{name}")
    event = only(payload)
    assert (event["id"], event["source"], event["subject"], event["time"]) == (
        event_id, source, subject, time)
    assert event["type"] == f"com.amazonaws.s3.{name_}"
    assert event.get_data() == payload["detail"]


def test_s3_via_eventbridge_via_sqs_is_the_eventbridge_event() -> None:
    payload = fixture("aws/s3_eventbridge_via_sqs.json")
    event = only(payload)
    inner = json.loads(payload["Records"][0]["body"])
    assert event["id"] == inner["id"] == "75012ec5-af4a-7e39-2dd4-a28b7bb8cde4"
    assert event["type"] == "com.amazonaws.s3.ObjectCreated:Put"
    assert event["source"] == "aws:s3.us-east-1.s3-eb-unwrap-sourcebucket-7mop1gqlyrzu"
    assert event["time"] == "2024-03-26T18:05:54Z"
    assert event.get_data() == inner["detail"]


# DESIGN.md's action table, by EventBridge detail-type.
EVENTBRIDGE_ACTIONS = {
    "Object Created": storage.CREATED, "Object Deleted": storage.DELETED,
    "Object Storage Class Changed": storage.ARCHIVED,
    "Object Access Tier Changed": storage.ARCHIVED,
    "Object Restore Initiated": storage.UPDATED, "Object Restore Completed": storage.UPDATED,
    "Object Restore Expired": storage.UPDATED, "Object Tags Added": storage.UPDATED,
    "Object Tags Deleted": storage.UPDATED, "Object ACL Updated": storage.UPDATED,
}
EVENTBRIDGE_CASES = [(detail_type, reason, deletion, name)
                     for (detail_type, reason, deletion), name in EVENTBRIDGE_NAMES.items()]


@pytest.mark.parametrize(("detail_type", "reason", "deletion", "name"), EVENTBRIDGE_CASES)
def test_every_s3_eventbridge_type_maps_to_its_notification_name(
        detail_type: str, reason: str, deletion: str, name: str) -> None:
    payload = fixture("aws/s3_eventbridge_object_created_docs.json")
    payload["detail-type"] = detail_type
    payload["detail"]["reason"] = reason or None
    payload["detail"]["deletion-type"] = deletion or None
    event = only(payload)
    assert event["type"] == f"com.amazonaws.s3.{name}"
    assert storage.object_event(event).action == EVENTBRIDGE_ACTIONS[detail_type]


@pytest.mark.parametrize(("detail_type", "reason", "deletion", "name", "action"), [
    ("Object Created", "CopyObject", None, "ObjectCreated:Copy", storage.CREATED),
    ("Object Created", "CompleteMultipartUpload", None, "ObjectCreated:CompleteMultipartUpload",
     storage.CREATED),
    ("Object Created", "ObjectCreated", None, "ObjectCreated:*", storage.CREATED),  # moto
    ("Object Deleted", "DeleteObject", "Permanently Deleted", "ObjectRemoved:Delete",
     storage.DELETED),
    ("Object Deleted", "DeleteObjects", "Delete Marker Created",
     "ObjectRemoved:DeleteMarkerCreated", storage.DELETED),
    ("Object Deleted", "Lifecycle Expiration", "Permanently Deleted",
     "LifecycleExpiration:Delete", storage.DELETED),
    ("Object Storage Class Changed", None, None, "LifecycleTransition", storage.ARCHIVED),
    ("Object Tags Added", None, None, "ObjectTagging:Put", storage.UPDATED),
    ("Object ACL Updated", None, None, "ObjectAcl:Put", storage.UPDATED),
    ("Object Restore Completed", None, None, "ObjectRestore:Completed", storage.UPDATED),
])
def test_eventbridge_reason_and_deletion_type_refine_the_type(
        detail_type: str, reason: str | None, deletion: str | None, name: str,
        action: str) -> None:
    payload = fixture("aws/s3_eventbridge_object_deleted_docs.json")
    payload["detail-type"] = detail_type
    payload["detail"].update({"reason": reason, "deletion-type": deletion})
    event = only(payload)
    assert event["type"] == f"com.amazonaws.s3.{name}"
    assert storage.object_event(event).action == action


def test_eventbridge_time_as_a_number_becomes_rfc3339() -> None:
    payload = fixture("aws/s3_eventbridge_object_created.json")
    payload["time"] = 1678297814.0  # moto sends epoch seconds
    assert only(payload)["time"] == "2023-03-08T17:50:14.000Z"


def test_other_eventbridge_events_keep_their_own_type_and_source() -> None:
    payload = {
        "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
        "account": "123456789012", "time": "2015-11-11T21:29:54Z", "region": "us-east-1",
        "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
        "detail": {"instance-id": "i-abcd1111", "state": "pending"},
    }
    event = only(payload)
    assert event["id"] == "7bf73129-1428-4cd3-a780-95db273d1602"
    assert event["source"] == "aws.ec2"
    assert event["type"] == "EC2 Instance State-change Notification"
    assert event["subject"] == "arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"
    assert event["time"] == "2015-11-11T21:29:54Z"
    assert event.get_data() == {"instance-id": "i-abcd1111", "state": "pending"}


def test_cloudtrail_api_calls_on_s3_are_not_storage_events() -> None:
    payload = fixture("aws/s3_eventbridge_object_created.json")
    payload["detail-type"] = "AWS API Call via CloudTrail"
    payload["detail"] = {"eventName": "PutBucketPolicy"}
    event = only(payload)
    assert event["type"] == "AWS API Call via CloudTrail"
    assert storage.action_of(event) is None


# -- SQS and SNS messages ---------------------------------------------------------------------

def test_plain_sqs_messages_map_to_the_message() -> None:
    payload = fixture("aws/sqs_batch.json")
    first, second = to_cloudevents(payload)
    assert first["id"] == "059f36b4-87a3-44ab-83d2-661975830a7d"
    assert first["source"] == "arn:aws:sqs:us-east-2:123456789012:my-queue"
    assert first["type"] == "com.amazonaws.sqs.message"
    assert first["time"] == "2018-12-17T21:37:29.183Z"  # SentTimestamp 1545082649183
    assert first.get_data()["body"] == "Test message."
    assert first.get_data()["messageAttributes"] == payload["Records"][0]["messageAttributes"]
    assert second["id"] == "2e1424d4-f796-459a-8184-9c92662be6da"
    assert json.loads(second.get_data()["body"]) == {"message": "foo1"}


@pytest.mark.parametrize(("name", "event_id", "source", "body"), [
    ("sqs_fifo_docs.json", "11d6ee51-4cc7-4302-9e22-7cd8afdaadf5",
     "arn:aws:sqs:us-east-2:123456789012:fifo.fifo", "Test message."),
    ("sqs_from_dlq_redrive.json", "db37cc61-1bb0-4e77-b6f3-7cf87f44a72a",
     "arn:aws:sqs:eu-central-1:123456789012:sqs-redrive-SampleDLQ-Emgp9MFSLBZm", "hello world"),
    ("sqs_typed_message_attributes.json", "MessageID_1",
     "arn:aws:sqs:us-west-2:123456789012:SQSQueue", "Message Body"),
])
def test_sqs_fixtures(name: str, event_id: str, source: str, body: str) -> None:
    event = only(fixture(f"aws/{name}"))
    assert (event["id"], event["source"], event["type"]) == (
        event_id, source, "com.amazonaws.sqs.message")
    assert event.get_data()["body"] == body


def test_fifo_and_receive_count_are_kept_per_message() -> None:
    (fifo,) = ingress.items(fixture("aws/sqs_fifo_docs.json"))
    assert fifo.ordered and fifo.attempt == 1
    assert fifo.message_id == "11d6ee51-4cc7-4302-9e22-7cd8afdaadf5"
    (standard,) = ingress.items(fixture("aws/sqs_typed_message_attributes.json"))
    assert not standard.ordered and standard.attempt == 2


def test_a_redelivered_sqs_message_is_the_same_cloudevent() -> None:
    first = fixture("aws/sqs_batch.json")
    again = copy.deepcopy(first)
    again["Records"][0]["receiptHandle"] = "AQEBdifferent"
    again["Records"][0]["attributes"]["ApproximateReceiveCount"] = "4"
    again["Records"][0]["attributes"]["ApproximateFirstReceiveTimestamp"] = "1545082999999"
    assert to_structured(to_cloudevents(first)[0]) == to_structured(to_cloudevents(again)[0])


def test_sns_notification_follows_the_cncf_sns_mapping() -> None:
    payload = fixture("aws/sns_notification.json")
    event = only(payload)
    assert event["id"] == "95df01b4-ee98-5cb9-9903-4c221d41eb5e"
    assert event["source"] == payload["Records"][0]["EventSubscriptionArn"]
    assert event["type"] == "com.amazonaws.sns.Notification"
    assert event["subject"] == "TestInvoke"
    assert event["time"] == "2019-01-02T12:45:07.000Z"
    assert event.get_data() == payload["Records"][0]["Sns"]
    assert event.get_data()["Message"] == "Hello from SNS!"


def test_sns_via_sqs_names_the_subscription_from_the_unsubscribe_url() -> None:
    payload = fixture("aws/sns_via_sqs.json")
    event = only(payload)
    envelope = json.loads(payload["Records"][0]["body"])
    assert event["id"] == "d88d4479-6ec0-54fe-b63f-1cf9df4bb16e"
    assert event["source"] == ("arn:aws:sns:eu-west-1:231436140809:powertools265:"
                               "15189ad7-870e-40e5-a7dd-a48898cd9f86")
    assert event["type"] == "com.amazonaws.sns.Notification"
    assert event["time"] == "2021-01-19T10:07:07.287Z"
    assert "subject" not in event.get_attributes()
    assert event.get_data() == envelope
    assert json.loads(event.get_data()["Message"]) == {"message": "hello world",
                                                       "username": "lessa"}


def test_sns_envelope_without_unsubscribe_url_falls_back_to_the_topic() -> None:
    payload = fixture("aws/sns_via_sqs.json")
    envelope = json.loads(payload["Records"][0]["body"])
    del envelope["UnsubscribeURL"]
    payload["Records"][0]["body"] = json.dumps(envelope)
    assert only(payload)["source"] == "arn:aws:sns:eu-west-1:231436140809:powertools265"


# -- CloudEvents carried by AWS messages ------------------------------------------------------

def sample_event() -> Any:
    return new_event({"id": "order-1", "source": "/shop", "type": "com.example.order.created",
                      "subject": "orders/1", "time": "2024-05-01T12:00:00Z",
                      "datacontenttype": "application/json", "tenant": "acme"},
                     {"order": 1, "items": ["a", "b"]})


def sqs_payload(body: str, attributes: dict[str, Any] | None = None,
                arn: str = "arn:aws:sqs:us-east-1:123456789012:q") -> dict[str, Any]:
    return {"Records": [{
        "messageId": "m-1", "receiptHandle": "r", "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1714564800000"},
        "messageAttributes": attributes or {}, "md5OfBody": "x", "eventSource": "aws:sqs",
        "eventSourceARN": arn, "awsRegion": "us-east-1"}]}


def test_structured_cloudevent_in_an_sqs_body_is_that_cloudevent() -> None:
    original = sample_event()
    received = only(sqs_payload(json.dumps(to_structured(original))))
    assert to_structured(received) == to_structured(original)


def test_binary_cloudevent_in_sqs_message_attributes_is_that_cloudevent() -> None:
    original = sample_event()
    headers, body = to_binary(original)
    attributes = {name: {"stringValue": value, "dataType": "String"}
                  for name, value in headers.items()}
    assert body is not None
    received = only(sqs_payload(body.decode(), attributes))
    assert to_structured(received) == to_structured(original)


def test_binary_cloudevent_in_sns_message_attributes_is_that_cloudevent() -> None:
    original = sample_event()
    headers, body = to_binary(original)
    payload = fixture("aws/sns_notification.json")
    sns = payload["Records"][0]["Sns"]
    assert body is not None
    sns["Message"] = body.decode()
    sns["MessageAttributes"] = {name: {"Type": "String", "Value": value}
                                for name, value in headers.items()}
    assert to_structured(only(payload)) == to_structured(original)


def test_cloudevent_through_sns_to_sqs_is_that_cloudevent() -> None:
    original = sample_event()
    payload = fixture("aws/sns_via_sqs.json")
    envelope = json.loads(payload["Records"][0]["body"])
    envelope["Message"] = json.dumps(to_structured(original))
    payload["Records"][0]["body"] = json.dumps(envelope)
    assert to_structured(only(payload)) == to_structured(original)


def test_eventbridge_detail_holding_a_structured_cloudevent_is_that_cloudevent() -> None:
    original = sample_event()
    payload = {"version": "0", "id": "eb-1", "detail-type": "com.example.order.created",
               "source": "/shop", "account": "1", "time": "2024-05-01T12:00:01Z",
               "region": "us-east-1", "resources": [], "detail": to_structured(original)}
    assert to_structured(only(payload)) == to_structured(original)


def test_a_structured_cloudevent_invoked_directly_is_that_cloudevent() -> None:
    original = sample_event()
    assert to_structured(only(to_structured(original))) == to_structured(original)


# -- test events, destination records, bad input ----------------------------------------------

def test_s3_test_event_yields_no_event_however_it_arrives() -> None:
    test_event = fixture("aws/s3_test_event.json")
    assert to_cloudevents(test_event) == []
    assert to_cloudevents(sqs_payload(json.dumps(test_event))) == []
    via_sns = fixture("aws/s3_via_sns.json")
    via_sns["Records"][0]["Sns"]["Message"] = json.dumps(test_event)
    assert to_cloudevents(via_sns) == []


def test_lambda_destination_record_is_one_failure_event_not_a_replay() -> None:
    record = fixture("aws/lambda_async_on_failure_destination_record.json")
    for payload in (record, sqs_payload(json.dumps(record))):
        event = only(payload)
        assert event["id"] == "e4b46cbf-b738-xmpl-8880-a18cdf61200e"
        assert event["source"] == ("arn:aws:lambda:us-east-2:123456789012:function:"
                                   "my-function:$LATEST")
        assert event["type"] == "Lambda Function Invocation Result - Failure"
        assert event["subject"] == "RetriesExhausted"
        assert event["time"] == "2019-11-14T18:16:05.568Z"
        assert event.get_data() == record


@pytest.mark.parametrize(("payload", "message"), [
    ([1, 2], "a JSON list"),
    ({}, "keys []"),
    (fixture("aws/sqs_batch_item_failures_response.json"), "keys ['batchItemFailures']"),
    ({"Records": [{"eventSource": "aws:kinesis", "kinesis": {}}]}, "aws:kinesis"),
    ({"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {}}}]}, "s3.bucket.name"),
])
def test_unrecognised_payloads_raise_a_clear_error(payload: Any, message: str) -> None:
    with pytest.raises(MalformedEventError, match="AWS payload") as info:
        to_cloudevents(payload)
    assert message in str(info.value)


def test_a_malformed_sqs_record_fails_only_itself() -> None:
    payload = fixture("aws/sqs_batch.json")
    bad = copy.deepcopy(payload["Records"][0])
    bad["messageId"] = "bad-1"
    bad["body"] = json.dumps({"specversion": "1.0", "type": "t", "source": "s"})  # no id
    payload["Records"].insert(1, bad)
    good1, broken, good2 = ingress.items(payload)
    assert good1.error is None and good2.error is None and len(good1.events) == 1
    assert broken.message_id == "bad-1" and broken.events == []
    assert broken.error is not None and "missing required attribute(s): id" in str(broken.error)
    with pytest.raises(MalformedEventError, match="SQS message 'bad-1'"):
        to_cloudevents(payload)


def test_an_sqs_record_of_the_wrong_shape_is_malformed_not_a_crash() -> None:
    payload = fixture("aws/sqs_batch.json")
    payload["Records"][1]["body"] = json.dumps({"Records": [{"s3": "not an object"}]})
    first, second = ingress.items(payload)
    assert first.error is None
    assert second.error is not None and "SQS message" in str(second.error)


# -- ids: multi-object deletes, emulators, S3-compatible stores -------------------------------

def delete_record(key: str, sequencer: str, **changes: Any) -> dict[str, Any]:
    record = fixture("aws/s3_object_removed_delete.json")["Records"][0]
    record["s3"]["object"].update({"key": key, "sequencer": sequencer})
    record.update(changes)
    return record  # type: ignore[no-any-return]


def test_records_of_one_multi_object_delete_get_distinct_ids() -> None:
    records = [delete_record(f"photos/{n}.jpg", f"0C0F6F405D6ED209E{n}") for n in range(3)]
    events = to_cloudevents({"Records": records})
    assert len({e["id"] for e in events}) == 3
    assert all(e["id"].startswith("D82B88E5F771F645.") for e in events)
    assert [e["subject"] for e in events] == [f"photos/{n}.jpg" for n in range(3)]
    assert [e["id"] for e in to_cloudevents({"Records": records})] == [e["id"] for e in events]


def test_without_response_elements_ids_are_hashes_that_tell_writes_apart() -> None:
    record = delete_record("a.txt", "", eventName="ObjectCreated:Put")
    del record["responseElements"], record["s3"]["object"]["sequencer"]
    rewrite = dict(record, eventTime="2019-09-03T19:40:00.000Z")
    first, again, second = to_cloudevents({"Records": [record, record, rewrite]})
    assert first["id"] == again["id"]
    assert first["id"] != second["id"]
    assert "." not in first["id"] and len(first["id"]) == 32


def test_s3_compatible_event_names_lose_their_s3_prefix() -> None:
    record = delete_record("a.txt", "1", eventName="s3:ObjectCreated:Put", eventSource="minio:s3",
                           awsRegion="")
    event = only({"Records": [record]})
    assert event["type"] == "com.amazonaws.s3.ObjectCreated:Put"
    assert event["source"] == "minio:s3..lambda-artifacts-deafc19498e3f2df"
    assert storage.object_event(event).action == storage.CREATED


# -- keys of any characters -------------------------------------------------------------------

S3_SAFE = "/*"  # besides letters, digits and "-_.~", which quote_plus never encodes
keys = st.text(min_size=1, max_size=300).filter(lambda k: len(k.encode()) <= 1024)
keys_with_specials = st.one_of(keys, st.lists(st.sampled_from(["+", "%", " ", "%20", "%2B", "/",
                                                               "é", "日本", "a"]),
                                              min_size=1, max_size=20).map("".join))


def s3_put(key: str) -> dict[str, Any]:
    record = fixture("aws/s3_object_created_put.json")["Records"][0]
    record["s3"]["object"]["key"] = quote_plus(key, safe=S3_SAFE)
    return record  # type: ignore[no-any-return]


@settings(max_examples=200, deadline=None)
@given(keys_with_specials)
def test_encoded_s3_keys_decode_to_the_original_key(key: str) -> None:
    record = s3_put(key)
    direct = only({"Records": [record]})
    via_sqs = only(sqs_payload(json.dumps({"Records": [record]})))
    for event in (direct, via_sqs):
        assert event["subject"] == key
        assert storage.object_event(event).key == key
        assert storage.object_event(event).url == f"s3://lambda-artifacts-deafc19498e3f2df/{key}"


@settings(max_examples=100, deadline=None)
@given(keys_with_specials)
def test_eventbridge_keys_arrive_unencoded_and_stay_so(key: str) -> None:
    payload = fixture("aws/s3_eventbridge_object_created.json")
    payload["detail"]["object"]["key"] = key
    event = only(payload)
    assert event["subject"] == key
    assert storage.object_event(event).key == key
