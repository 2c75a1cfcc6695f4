"""adapters.azure ingress: every Azure fixture that is an event converts, with its fields."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.storage.blob import BlobProperties, ContentSettings

from adapters import azure
from adapters.azure.ingress import QUEUE_MESSAGE_TYPE
from portable import MalformedEventError, NotAStorageEvent, storage, testing
from portable._events import content_id, to_structured
from tests.azure import _host
from tests.conftest import fixture

ACCOUNT = ("/subscriptions/{subscription-id}/resourceGroups/Storage/providers/"
           "Microsoft.Storage/storageAccounts/my-storage-account")


def only(payload: Any, **kwargs: Any) -> Any:
    events = azure.to_cloudevents(payload, **kwargs)
    assert len(events) == 1
    return events[0]


# -- Event Grid schema --------------------------------------------------------------------


def test_event_grid_blob_created_batch_maps_to_event_grids_cloudevent_form() -> None:
    event = only(fixture("azure/eventgrid_blob_created.json"))
    assert event["id"] == "831e1650-001e-001b-66ab-eeb76e069631"
    assert event["source"] == ACCOUNT
    assert event["type"] == "Microsoft.Storage.BlobCreated"
    assert event["subject"] == "/blobServices/default/containers/test-container/blobs/new-file.txt"
    assert event["time"] == "2017-06-26T18:41:00.9584103Z"
    assert event["specversion"] == "1.0"
    assert event.get_data()["api"] == "PutBlockList"
    assert event.get_data()["contentLength"] == 524288
    attributes = event.get_attributes()
    for dropped in ("dataschema", "dataversion", "metadataversion", "datacontenttype"):
        assert dropped not in attributes


def test_the_same_event_in_either_schema_is_the_same_cloudevent() -> None:
    grid = only(fixture("azure/eventgrid_blob_created.json"))
    cloud = only(fixture("azure/cloudevents_blob_created.json"))
    assert to_structured(grid) == to_structured(cloud)
    grid_deleted = only(fixture("azure/eventgrid_blob_deleted.json"))
    cloud_deleted = only(fixture("azure/cloudevents_blob_deleted.json"))
    assert to_structured(grid_deleted) == to_structured(cloud_deleted)


def test_single_event_grid_object_without_array() -> None:
    event = only(fixture("azure/eventgrid_blob_created_putblob.json"))
    assert event["id"] == "93902694-901e-008f-6f95-7153a806873c"
    assert event["subject"] == "/blobServices/default/containers/deadletter/blobs/myBlobFile.txt"
    obj = storage.object_event(event)
    assert (obj.action, obj.bucket, obj.key, obj.size) == ("created", "deadletter",
                                                           "myBlobFile.txt", 0)
    assert obj.etag == "0x8D83FACDC0C3402"


def test_functions_trigger_single_event_non_storage() -> None:
    event = only(fixture("azure/functions_eventgrid_trigger_single_event.json"))
    assert event["type"] == "captureFileCreated"
    assert event["source"] == "/TestTopic/namespaces/test"
    assert event["subject"] == "eventhubs/test"
    assert event.get_data()["fileUrl"] == "https://test.blob.core.windows.net/debugging/testblob.txt"
    with pytest.raises(NotAStorageEvent):
        storage.object_event(event)


def test_json_text_and_bytes_convert_like_parsed_json() -> None:
    parsed = fixture("azure/eventgrid_blob_deleted.json")
    text = json.dumps(parsed)
    assert [to_structured(e) for e in azure.to_cloudevents(text)] == \
        [to_structured(e) for e in azure.to_cloudevents(text.encode())] == \
        [to_structured(e) for e in azure.to_cloudevents(parsed)]


# -- CloudEvents schema -------------------------------------------------------------------


def test_cloudevents_schema_single_structured_event() -> None:
    event = only(fixture("azure/cloudevents_blob_created_single.json"))
    assert event["id"] == "9aeb0fdf-c01e-0131-0922-9eb54906e209"
    assert event["subject"] == (
        "blobServices/default/containers/{storage-container}/blobs/{new-file}")
    obj = storage.object_event(event)
    assert (obj.bucket, obj.key, obj.size, obj.content_type) == (
        "{storage-container}", "{new-file}", 30699, "image/png")


def test_cloudevents_schema_blob_deleted_batch() -> None:
    event = only(fixture("azure/cloudevents_blob_deleted.json"))
    assert event["type"] == "Microsoft.Storage.BlobDeleted"
    assert event["time"] == "2017-11-07T20:09:22.5674003Z"
    obj = storage.object_event(event)
    assert (obj.action, obj.bucket, obj.key, obj.size) == (
        "deleted", "testcontainer", "file-to-delete.txt", None)


# -- every Blob* type of DESIGN.md's table, through storage.object_event --------------------


def _grid_event(event_type: str, subject_blob: str, data: dict[str, Any]) -> dict[str, Any]:
    return testing.event_grid_event(
        data, type=f"Microsoft.Storage.{event_type}", source=ACCOUNT,
        subject=f"/blobServices/default/containers/testcontainer/blobs/{subject_blob}",
        time="2021-05-04T15:00:00.8350154Z")


# Built from Microsoft's documented schemas (event-schema-blob-storage.md): BlobTierChanged is
# its SetBlobTier example plus the tier fields ("accessTier", "previousTier") newer deliveries
# carry; BlobPropertiesUpdated has the same data shape; BlobRenamed is the documented
# Data Lake example (destinationUrl / sourceUrl, subject = the new name).
_TIER_DATA = {
    "api": "SetBlobTier", "clientRequestId": "68be434c-1a0d-432f-9cd7-1db90bff83d7",
    "requestId": "0fdefc06-b01e-0034-39f6-401661000000", "contentType": "image/jpeg",
    "contentLength": 105891, "blobType": "BlockBlob",
    "url": "https://my-storage-account.blob.core.windows.net/testcontainer/Auto.jpg",
    "sequencer": "000000000000000000000000000089A4000000000018d6ea",
}
BLOB_EVENTS = [
    ("created", fixture("azure/eventgrid_blob_created.json")[0], "test-container", "new-file.txt"),
    ("deleted", fixture("azure/eventgrid_blob_deleted.json")[0], "testcontainer",
     "file-to-delete.txt"),
    ("archived", _grid_event("BlobTierChanged", "Auto.jpg",
                             {**_TIER_DATA, "accessTier": "Archive", "previousTier": "Cool"}),
     "testcontainer", "Auto.jpg"),
    ("updated", _grid_event("BlobTierChanged", "Auto.jpg",
                            {**_TIER_DATA, "accessTier": "Cool", "previousTier": "Hot"}),
     "testcontainer", "Auto.jpg"),
    ("updated", _grid_event("BlobPropertiesUpdated", "Auto.jpg",
                            {**_TIER_DATA, "api": "SetBlobProperties"}),
     "testcontainer", "Auto.jpg"),
    ("updated", _grid_event("BlobRenamed", "my-renamed-file.txt", {
        "api": "RenameFile", "requestId": "831e1650-001e-001b-66ab-eeb76e000000",
        "destinationUrl":
            "https://my-storage-account.dfs.core.windows.net/testcontainer/my-renamed-file.txt",
        "sourceUrl":
            "https://my-storage-account.dfs.core.windows.net/testcontainer/my-original-file.txt",
        "sequencer": "00000000000004420000000000028963"}),
     "testcontainer", "my-renamed-file.txt"),
]


@pytest.mark.parametrize(("action", "payload", "container", "blob"), BLOB_EVENTS,
                         ids=[f"{e[1]['eventType']}-{e[0]}" for e in BLOB_EVENTS])
def test_storage_view_of_every_blob_event_type(action: str, payload: dict[str, Any],
                                               container: str, blob: str) -> None:
    obj = storage.object_event(only(payload))
    assert (obj.action, obj.provider, obj.bucket, obj.key) == (action, "azure", container, blob)
    assert obj.sequencer == payload["data"]["sequencer"]
    assert obj.time == datetime.fromisoformat(payload["eventTime"])


def test_renamed_blob_points_at_its_new_url() -> None:
    payload = BLOB_EVENTS[-1][1]
    assert storage.object_event(only(payload)).url == payload["data"]["destinationUrl"]


# -- dead letters read back from Event Grid's dead-letter container --------------------------


def test_dead_lettered_event_is_the_original_event_plus_its_dead_letter_fields() -> None:
    payload = fixture("azure/eventgrid_deadletter_blob_created.json")
    [item] = azure.to_items(payload)
    original = only(fixture("azure/eventgrid_blob_created_putblob.json"))
    assert item.event is not None
    assert item.event["id"] == original["id"]
    assert item.event.get_data() == original.get_data()
    assert item.event["subject"] == original["subject"]
    assert item.deadletter == {
        "deadLetterReason": "MaxDeliveryAttemptsExceeded", "deliveryAttempts": 1,
        "lastDeliveryOutcome": "NotFound", "publishTime": "2020-08-13T17:18:14.0265758Z",
        "lastDeliveryAttemptTime": "2020-08-13T17:18:14.0465788Z"}
    assert "deadletterreason" not in item.event.get_attributes()


def test_dead_lettered_cloudevent_has_lower_case_fields_split_off() -> None:
    payload = {**fixture("azure/cloudevents_blob_created_single.json"),
               "deadletterreason": "MaxDeliveryAttemptsExceeded", "deliveryattempts": 30,
               "lastdeliveryoutcome": "Busy", "publishtime": "2020-08-13T17:18:14Z",
               "lastdeliveryattempttime": "2020-08-14T17:18:14Z"}
    [item] = azure.to_items(json.dumps(payload))
    assert item.event is not None and item.event["id"] == payload["id"]
    assert item.deadletter is not None and item.deadletter["deliveryattempts"] == 30
    assert "lastdeliveryattempttime" not in item.event.get_attributes()


# -- control events are never items ---------------------------------------------------------


def test_subscription_validation_is_no_event_and_its_code_is_found() -> None:
    payload = fixture("azure/eventgrid_subscription_validation.json")
    assert azure.to_cloudevents(payload) == []
    expected = fixture("azure/eventgrid_subscription_validation_response.json")
    assert azure.validation_code(payload) == expected["validationResponse"]
    assert azure.validation_code(json.dumps(payload).encode()) == expected["validationResponse"]
    assert azure.validation_code(fixture("azure/eventgrid_blob_created.json")) is None
    assert azure.validation_code(b"not json") is None


def test_subscription_deleted_event_is_skipped_in_a_batch() -> None:
    deleted = testing.event_grid_event({}, type="Microsoft.EventGrid.SubscriptionDeletedEvent")
    events = azure.to_cloudevents([deleted, *fixture("azure/eventgrid_blob_created.json")])
    assert [e["type"] for e in events] == ["Microsoft.Storage.BlobCreated"]


# -- the trigger's own objects ---------------------------------------------------------------


def test_event_grid_trigger_object_converts_like_its_json() -> None:
    raw = fixture("azure/functions_eventgrid_trigger_single_event.json")
    event = only(_host.event_grid_event(raw))
    assert event["id"] == raw["id"] and event["type"] == raw["eventType"]
    assert event["source"] == raw["topic"] and event["subject"] == raw["subject"]
    assert event["time"] == "2017-07-14T23:10:27.768966Z"  # the worker keeps microseconds
    assert event.get_data() == raw["data"]


def test_event_grid_trigger_cloudevent_object_for_cloudevents_schema() -> None:
    raw = fixture("azure/cloudevents_blob_created_single.json")
    event = only(_host.event_grid_event(raw))  # the worker builds an azure.functions.CloudEvent
    assert event["id"] == raw["id"] and event["source"] == raw["source"]
    assert event["time"] == "2019-11-18T15:13:39.458925Z"
    assert storage.object_event(event).size == 30699


PROPERTIES = fixture("azure/blob_trigger_properties.json")
BLOB_URI = "https://myaccount.blob.core.windows.net/uploads/photos/cat.png"


def test_blob_trigger_input_stream_becomes_blob_created() -> None:
    stream = _host.input_stream(b"hello world!", name="uploads/photos/cat.png", uri=BLOB_URI,
                                properties=PROPERTIES, metadata={"Hello": "World"})
    event = only(stream)
    assert event["type"] == "Microsoft.Storage.BlobCreated"
    assert event["id"] == content_id(BLOB_URI, "0x8D8989BC453467D")
    assert event["source"] == "https://myaccount.blob.core.windows.net"
    assert event["subject"] == "/blobServices/default/containers/uploads/blobs/photos/cat.png"
    assert event["time"] == "2020-12-04T21:30:05Z"
    assert event.get_data() == {
        "eTag": "0x8D8989BC453467D", "contentType": "application/octet-stream",
        "contentLength": 12, "blobType": "BlockBlob", "url": BLOB_URI}
    obj = storage.object_event(event)
    assert (obj.action, obj.bucket, obj.key, obj.size, obj.etag, obj.url) == (
        "created", "uploads", "photos/cat.png", 12, "0x8D8989BC453467D", BLOB_URI)


def test_blob_trigger_id_is_stable_per_version_and_changes_with_the_etag() -> None:
    def event_for(etag: str) -> Any:
        return only(testing.blob_input_stream("uploads/a.txt", b"x", etag=etag))

    assert event_for("0x1")["id"] == event_for('"0x1"')["id"]
    assert event_for("0x1")["id"] != event_for("0x2")["id"]


def test_blob_trigger_on_azurite_keeps_the_account_in_the_source() -> None:
    uri = "http://127.0.0.1:10000/devstoreaccount1/uploads/a.txt"
    event = only(_host.input_stream(b"x", name="uploads/a.txt", uri=uri, properties=PROPERTIES))
    assert event["source"] == "http://127.0.0.1:10000/devstoreaccount1"
    assert storage.object_event(event).key == "a.txt"


def test_blob_trigger_v5_properties_number_blob_types_differently() -> None:
    props = {"ETag": '"0x8DA"', "ContentLength": 5, "ContentType": "text/plain",
             "BlobType": 0, "CreatedOn": "2024-01-01T00:00:00+00:00",
             "LastModified": "2024-01-02T00:00:00+00:00"}
    event = only(_host.input_stream(b"x", name="c/b", uri=BLOB_URI, properties=props))
    assert event.get_data()["blobType"] == "BlockBlob"
    assert event.get_data()["eTag"] == "0x8DA"


def test_blob_client_properties_become_blob_created() -> None:
    props = BlobProperties(**{
        "ETag": '"0x8DC0FFEE"', "Content-Length": 1048576, "Content-Type": "video/mp4",
        "x-ms-blob-type": "BlockBlob",
        "Last-Modified": datetime(2024, 3, 1, 12, 0, tzinfo=UTC)})
    props.content_settings = ContentSettings(content_type="video/mp4")

    class Client:
        url = "https://acct.blob.core.windows.net/videos/big.mp4"
        container_name = "videos"
        blob_name = "big.mp4"

    [item] = azure.blob_client_items(Client(), props)
    assert item.event is not None
    assert item.event["id"] == content_id(Client.url, "0x8DC0FFEE")
    assert item.event["time"] == "2024-03-01T12:00:00Z"
    assert item.event.get_data() == {
        "eTag": "0x8DC0FFEE", "contentType": "video/mp4", "contentLength": 1048576,
        "blobType": "BlockBlob", "url": Client.url}
    obj = storage.object_event(item.event)
    assert (obj.bucket, obj.key, obj.size) == ("videos", "big.mp4", 1048576)


# -- Storage queue messages -------------------------------------------------------------------


def test_queue_message_carrying_an_event_grid_event() -> None:
    body = json.dumps(fixture("azure/eventgrid_blob_created_putblob.json"))
    event = only(_host.queue_message(body, message_id="q-1"), queue="events")
    assert event["id"] == "93902694-901e-008f-6f95-7153a806873c"  # the event's id, not q-1
    assert storage.object_event(event).key == "myBlobFile.txt"


def test_queue_message_carrying_a_structured_cloudevent() -> None:
    body = json.dumps(testing.event_grid_event(
        {"order": 7}, type="com.example.order.placed", source="/orders", id="o-1",
        schema="cloudevents", extra={"datacontenttype": "application/json"}))
    event = only(_host.queue_message(body))
    assert (event["id"], event["source"], event["type"]) == (
        "o-1", "/orders", "com.example.order.placed")
    assert event.get_data() == {"order": 7}


def test_queue_message_with_plain_json_is_a_queue_message_event() -> None:
    message = _host.queue_message('{"order": 7}', message_id="q-42",
                                  inserted="2024-05-01T10:00:00Z")
    event = only(message, queue="orders")
    assert event["type"] == QUEUE_MESSAGE_TYPE == "Microsoft.Storage.QueueMessage"
    assert event["id"] == "q-42"
    assert event["source"] == "/queueServices/default/queues/orders"
    assert event["time"] == "2024-05-01T10:00:00Z"
    assert event["datacontenttype"] == "application/json"
    assert event.get_data() == {"order": 7}
    with pytest.raises(NotAStorageEvent):
        storage.object_event(event)


def test_raw_queue_text_from_the_sdk_is_base64_decoded() -> None:
    text = base64.b64encode(b'{"order": 8}').decode()
    [item] = azure.queue_items(text, message_id="q-9", queue="orders", encoding="base64")
    assert item.event is not None and item.event.get_data() == {"order": 8}


# -- bad input ---------------------------------------------------------------------------------


def _without(event: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key not in fields}


GRID_EVENT = testing.event_grid_event()
CLOUD_EVENT = testing.event_grid_event(schema="cloudevents")
BAD_INPUT = [
    ("not json", b"{not json", "not valid JSON"),
    ("not an object", b"[1]", "must be a JSON object, not int"),
    ("no schema", b'{"hello": "world"}', "neither an Event Grid event"),
    ("missing eventTime", json.dumps([_without(fixture("azure/eventgrid_blob_created.json")[0],
                                               "eventTime")]),
     "missing required field(s): eventTime"),
    ("missing id and topic", json.dumps(_without(GRID_EVENT, "id", "topic")),
     "missing required field(s): id, topic"),
    ("eventType not a string", json.dumps({**GRID_EVENT, "eventType": 5}), "must be strings"),
    ("cloudevent without source", json.dumps(_without(CLOUD_EVENT, "source")),
     "missing required attribute(s): source"),
    ("invalid data_base64", json.dumps({**_without(CLOUD_EVENT, "data"), "data_base64": "***"}),
     "not valid base64"),
]


@pytest.mark.parametrize(("case", "payload", "message"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_a_clear_malformed_event_error(case: str, payload: Any, message: str) -> None:
    with pytest.raises(MalformedEventError, match=message.replace("(", r"\(").replace(")", r"\)")):
        azure.to_cloudevents(payload)
    [item] = azure.to_items(payload)
    assert item.event is None and item.error is not None


def test_non_json_queue_message_is_bad_input() -> None:
    [item] = azure.to_items(_host.queue_message("hello there", message_id="q-7"))
    assert item.error is not None and "queue message 'q-7' is not JSON" in str(item.error)
    assert item.payload() == b"hello there"


def test_invalid_base64_queue_text_is_bad_input() -> None:
    [item] = azure.queue_items("@@not base64@@", message_id="q-8", encoding="base64")
    assert item.error is not None and "queue message 'q-8' is not valid base64" in str(item.error)


def test_blob_trigger_without_etag_is_bad_input() -> None:
    props = {k: v for k, v in PROPERTIES.items() if k != "ETag"}
    [item] = azure.to_items(_host.input_stream(b"x", name="c/b", uri=BLOB_URI, properties=props))
    assert item.error is not None and "no ETag" in str(item.error)
    assert json.loads(item.payload())["uri"] == BLOB_URI  # the dead letter keeps the metadata


def test_blob_trigger_name_without_container_is_bad_input() -> None:
    with pytest.raises(MalformedEventError, match="is not 'container/blob'"):
        azure.to_cloudevents(_host.input_stream(b"x", name="b", uri=BLOB_URI,
                                                properties=PROPERTIES))


def test_one_bad_event_in_a_batch_keeps_the_good_ones() -> None:
    good = fixture("azure/eventgrid_blob_created.json")[0]
    other = {**copy.deepcopy(good), "id": "second-good"}
    bad = {k: v for k, v in good.items() if k != "topic"}
    items = azure.to_items(json.dumps([good, bad, "junk", other]))
    assert [i.event["id"] if i.event else None for i in items] == [good["id"], None, None,
                                                                    "second-good"]
    assert "batch entry 1" in str(items[1].error) and "topic" in str(items[1].error)
    assert "batch entry 2" in str(items[2].error)
    assert json.loads(items[1].payload()) == bad  # each bad entry keeps its own raw JSON
    with pytest.raises(MalformedEventError, match=r"\(and 1 more bad entries\)"):
        azure.to_cloudevents([good, bad, "junk"])


def test_unrecognised_object_is_bad_input() -> None:
    with pytest.raises(MalformedEventError):
        azure.to_cloudevents(42)
