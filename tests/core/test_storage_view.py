"""storage.object_event on CloudEvents built by hand in each provider's shape."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from portable import NotAStorageEvent, new_event, storage
from tests.conftest import fixture


def ev(event_type: str, data: Any, **attrs: Any) -> Any:
    return new_event(
        {"id": "1", "source": attrs.pop("source", "/s"), "type": event_type, **attrs}, data
    )


def s3_record(event_name: str, key: str = "my+photo.jpg", **obj: Any) -> dict[str, Any]:
    return {
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventName": event_name,
        "eventTime": "2026-01-02T03:04:05.000Z",
        "s3": {
            "bucket": {"name": "photos"},
            "object": {"key": key, "sequencer": "0055AED6DCD90281E5", **obj},
        },
    }


def test_s3_notification_record() -> None:
    record = s3_record("ObjectCreated:Put", size=1024, eTag="d41d8", versionId="v1")
    obj = storage.object_event(
        ev("com.amazonaws.s3.ObjectCreated:Put", record, time="2026-01-02T03:04:05.000Z")
    )
    assert (obj.action, obj.provider, obj.bucket, obj.key) == (
        "created",
        "aws",
        "photos",
        "my photo.jpg",
    )
    assert (obj.size, obj.etag, obj.version, obj.sequencer) == (
        1024,
        "d41d8",
        "v1",
        "0055AED6DCD90281E5",
    )
    assert obj.url == "s3://photos/my photo.jpg" and obj.content_type is None and not obj.replaced
    assert obj.time == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_s3_subject_wins_over_the_encoded_key() -> None:
    record = s3_record("ObjectCreated:Put", key="a%2Bb+c.txt")
    obj = storage.object_event(
        ev("com.amazonaws.s3.ObjectCreated:Put", record, subject="a+b c.txt")
    )
    assert obj.key == "a+b c.txt"


@pytest.mark.parametrize(
    "name,action",
    [
        ("ObjectCreated:CompleteMultipartUpload", "created"),
        ("ObjectRemoved:Delete", "deleted"),
        ("ObjectRemoved:DeleteMarkerCreated", "deleted"),
        ("LifecycleExpiration:Delete", "deleted"),
        ("LifecycleTransition", "archived"),
        ("ObjectTagging:Put", "updated"),
        ("ObjectAcl:Put", "updated"),
        ("ObjectRestore:Completed", "updated"),
    ],
)
def test_s3_actions(name: str, action: str) -> None:
    assert storage.object_event(ev(f"com.amazonaws.s3.{name}", s3_record(name))).action == action


def test_s3_eventbridge_detail() -> None:
    detail = fixture("aws/s3_eventbridge_object_created_docs.json")["detail"]
    obj = storage.object_event(ev("com.amazonaws.s3.ObjectCreated:Put", detail))
    assert (obj.bucket, obj.key, obj.size) == (
        detail["bucket"]["name"],
        detail["object"]["key"],
        detail["object"]["size"],
    )
    assert obj.etag == detail["object"]["etag"] and obj.version == detail["object"]["version-id"]
    assert obj.sequencer == detail["object"]["sequencer"]


def test_azure_blob_created_cloudevent() -> None:
    ce = fixture("azure/cloudevents_blob_created_single.json")
    event = new_event({k: v for k, v in ce.items() if k != "data"}, ce["data"])
    obj = storage.object_event(event)
    assert (obj.action, obj.provider, obj.bucket, obj.key) == (
        "created",
        "azure",
        "{storage-container}",
        "{new-file}",
    )
    assert (obj.size, obj.etag, obj.content_type) == (30699, "0x8D76C39E4407333", "image/png")
    assert obj.sequencer == "000000000000000000000000000099240000000000c41c18"
    assert obj.url == "https://gridtesting.blob.core.windows.net/testcontainer/{new-file}"


@pytest.mark.parametrize(
    "event_type,data,action",
    [
        ("BlobDeleted", {"url": "https://a.blob.core.windows.net/c/k"}, "deleted"),
        (
            "BlobTierChanged",
            {"url": "https://a.blob.core.windows.net/c/k", "accessTier": "Archive"},
            "archived",
        ),
        (
            "BlobTierChanged",
            {"url": "https://a.blob.core.windows.net/c/k", "accessTier": "Cool"},
            "updated",
        ),
        ("BlobPropertiesUpdated", {"url": "https://a.blob.core.windows.net/c/k"}, "updated"),
        (
            "BlobRenamed",
            {
                "sourceUrl": "https://a.dfs.core.windows.net/c/old",
                "destinationUrl": "https://a.dfs.core.windows.net/c/k",
            },
            "updated",
        ),
    ],
)
def test_azure_actions(event_type: str, data: dict[str, Any], action: str) -> None:
    obj = storage.object_event(
        ev(
            f"Microsoft.Storage.{event_type}",
            data,
            subject="/blobServices/default/containers/c/blobs/k",
        )
    )
    assert (obj.action, obj.bucket, obj.key) == (action, "c", "k")
    assert obj.url.endswith("/c/k")


def test_gcs_finalized_with_string_size() -> None:
    ce = fixture("gcp/gcs_finalized_cloudevent_structured.json")
    obj = storage.object_event(
        new_event({k: v for k, v in ce.items() if k not in ("data", "bucket")}, ce["data"])
    )
    assert (obj.action, obj.provider, obj.bucket, obj.key) == (
        "created",
        "gcp",
        "sample-bucket",
        "MyFile",
    )
    assert obj.size == 0 and obj.sequencer == "96883251" and obj.version == "96883251"
    assert obj.url == "gs://sample-bucket/MyFile" and obj.content_type == "text/plain"


@pytest.mark.parametrize(
    "suffix,action",
    [("deleted", "deleted"), ("archived", "archived"), ("metadataUpdated", "updated")],
)
def test_gcs_actions_and_replaced(suffix: str, action: str) -> None:
    data = {"bucket": "b", "name": "folder/k", "size": "12", "generation": "7"}
    obj = storage.object_event(ev(f"google.cloud.storage.object.v1.{suffix}", data))
    assert obj.action == action and obj.size == 12 and not obj.replaced
    replaced = storage.object_event(
        ev(f"google.cloud.storage.object.v1.{suffix}", {**data, "overwrittenByGeneration": "8"})
    )
    assert replaced.replaced is (action in ("deleted", "archived"))


def test_local_folder_event() -> None:
    obj = storage.object_event(
        ev(
            "portable.local.storage.object.created",
            {"path": "in/a.txt", "size": 3, "etag": "123-3"},
            source="file:///tmp/drop",
            subject="in/a.txt",
        )
    )
    assert (obj.action, obj.provider, obj.bucket, obj.key) == (
        "created",
        "local",
        "/tmp/drop",
        "in/a.txt",
    )
    assert obj.url == "file:///tmp/drop/in/a.txt" and obj.size == 3


def test_non_storage_events_raise_a_clear_error() -> None:
    with pytest.raises(NotAStorageEvent, match="com.example.order"):
        storage.object_event(ev("com.example.order", {}))
    with pytest.raises(NotAStorageEvent, match="Replication"):
        storage.object_event(
            ev("com.amazonaws.s3.Replication:OperationFailedReplication", s3_record("x"))
        )
    with pytest.raises(NotAStorageEvent, match="no object data"):
        storage.object_event(ev("google.cloud.storage.object.v1.finalized", b"raw"))


def test_azure_quoted_etags_are_unquoted() -> None:
    obj = storage.object_event(
        ev(
            "Microsoft.Storage.BlobCreated",
            {"eTag": '"0x8D4BCC2E4835CD0"', "url": "u"},
            subject="/blobServices/default/containers/c/blobs/k",
        )
    )
    assert obj.etag == "0x8D4BCC2E4835CD0"
