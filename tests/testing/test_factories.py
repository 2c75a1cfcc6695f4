"""The kit's factories build the platforms' real payload shapes: the same keys, nested alike,
as the captured fixtures, and each adapter reads them into the CloudEvent the design says."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from adapters import aws, azure, gcp
from portable import new_event, storage, testing
from tests.conftest import fixture


def shape(value: Any) -> Any:
    """The keys of a payload, nested (a list by its first element), without the values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


CASES = {
    "s3 record": (testing.s3_event(bucket="b", key="k", size=3), "aws/s3_object_created_put.json"),
    "sqs batch": (testing.sqs_batch("Test message.", "{}"), "aws/sqs_batch.json"),
    "sqs fifo": (testing.sqs_batch(testing.sqs_message("Test message.", queue="q.fifo")),
                 "aws/sqs_fifo_docs.json"),
    "event grid": ([testing.blob_created_event("c", "a.txt", size=5)],
                   "azure/eventgrid_blob_created.json"),
    "cloudevents schema": (testing.blob_created_event("c", "a.txt", schema="cloudevents"),
                           "azure/cloudevents_blob_created_single.json"),
    "blob properties": (testing.blob_input_stream("c/a.txt", b"hello").blob_properties,
                        "azure/blob_trigger_properties.json"),
    "gcs object": (testing.gcs_object("b", "folder/a.txt"), "gcp/gcs_object_data_simple.json"),
}


@pytest.mark.parametrize("made, real", CASES.values(), ids=list(CASES))
def test_factories_shape_payloads_like_the_captured_fixtures(made: Any, real: str) -> None:
    expected = shape(fixture(real))
    if real == "aws/sqs_batch.json":  # the fixture's first message has a Number attribute
        expected["Records"][0]["messageAttributes"] = {}
    assert shape(made) == expected


def test_typed_sqs_message_attributes_have_the_shape_lambda_sends() -> None:
    real = fixture("aws/sqs_typed_message_attributes.json")["Records"][0]["messageAttributes"]
    made = testing.sqs_message("x", attributes={"Attribute1": "AttributeValue1",
                                                "Attribute3": b"1100"})["messageAttributes"]
    assert made["Attribute1"] == real["Attribute1"]
    assert set(made["Attribute3"]) == set(real["Attribute3"]) - {"stringValue"}


def test_pubsub_push_has_the_envelope_pubsub_sends() -> None:
    real = fixture("gcp/pubsub_push_envelope.json")
    made = testing.pubsub_push(b"Text message", attributes={"attr1": "value1"},
                               ordering_key="orderxyz")
    assert shape(made) == shape(real)
    assert base64.b64decode(made["message"]["data"]) == b"Text message"
    assert testing.pubsub_push(delivery_attempt=4)["deliveryAttempt"] == 4
    assert "deliveryAttempt" not in made


def test_pubsub_push_of_a_cloudevent_matches_the_emulator_capture() -> None:
    real = fixture("gcp/pubsub_push_emulator_capture.json")
    attributes = real["message"]["attributes"]
    event = new_event({"id": attributes["ce-id"], "source": attributes["ce-source"],
                       "type": attributes["ce-type"], "datacontenttype": "application/json"},
                      {"orderId": "order-12345"})
    made = testing.pubsub_push(event=event, message_id="3")
    assert made["message"]["attributes"] == attributes
    assert json.loads(base64.b64decode(made["message"]["data"])) == {"orderId": "order-12345"}
    [read] = gcp.to_cloudevents(made)
    assert read == event


def test_s3_record_reads_as_the_cncf_mapping_with_the_key_decoded() -> None:
    [event] = aws.to_cloudevents(testing.s3_event(bucket="photos", key="my photo.jpg", size=7))
    assert event["type"] == "com.amazonaws.s3.ObjectCreated:Put"
    assert event["source"] == "aws:s3.us-east-1.photos"
    obj = storage.object_event(event)
    assert (obj.action, obj.bucket, obj.key, obj.size) == (storage.CREATED, "photos",
                                                           "my photo.jpg", 7)


def test_s3_deletion_has_no_size_or_etag_like_the_real_one() -> None:
    made = testing.s3_record("b", "k", event_name="ObjectRemoved:Delete")
    real = fixture("aws/s3_object_removed_delete.json")["Records"][0]
    assert set(made["s3"]["object"]) == set(real["s3"]["object"])
    [event] = aws.to_cloudevents({"Records": [made]})
    assert storage.object_event(event).action == storage.DELETED


def test_sqs_batch_of_an_s3_notification_reads_as_the_s3_event() -> None:
    s3 = testing.s3_event(bucket="b", key="a.txt")
    [direct] = aws.to_cloudevents(s3)
    [via_sqs] = aws.to_cloudevents(testing.sqs_batch(s3, receive_count=3))
    assert via_sqs == direct
    assert aws.ingress.items(testing.sqs_batch(s3, receive_count=3))[0].attempt == 3


def test_blob_factories_read_as_the_same_blob() -> None:
    [trigger] = azure.to_cloudevents(testing.blob_input_stream("uploads/a.txt", b"hello",
                                                               etag="0x8DC1"))
    [grid] = azure.to_cloudevents(testing.blob_created_event("uploads", "a.txt", size=5,
                                                             etag="0x8DC1"))
    for event in (trigger, grid):
        obj = storage.object_event(event)
        assert (obj.action, obj.bucket, obj.key, obj.size, obj.etag) == (
            storage.CREATED, "uploads", "a.txt", 5, "0x8DC1")


def test_queue_message_reads_with_its_dequeue_count() -> None:
    message = testing.queue_message({"order": 1}, dequeue_count=2)
    [event] = azure.to_cloudevents(message, queue="orders")
    assert event.get_data() == {"order": 1}
    assert event["source"] == "/queueServices/default/queues/orders"
    assert message.dequeue_count == 2


def test_gcs_notification_reads_as_the_eventarc_storage_event() -> None:
    envelope = testing.gcs_notification("b", "folder/a.txt", size=12, event_type="OBJECT_DELETE",
                                        overwritten_by="2")
    [event] = gcp.to_cloudevents(envelope)
    assert event["type"] == "google.cloud.storage.object.v1.deleted"
    obj = storage.object_event(event)
    assert (obj.bucket, obj.key, obj.size, obj.replaced) == ("b", "folder/a.txt", 12, True)


def test_fake_lambda_context_counts_down() -> None:
    context = testing.lambda_context(remaining=30, request_id="req-1")
    assert 29_000 < context.get_remaining_time_in_millis() <= 30_000
    assert context.aws_request_id == "req-1"
    assert context.invoked_function_arn.startswith("arn:aws:lambda:")
