"""The upload pipeline through each cloud's entry, with the objects in that cloud's emulator:
S3 notifications from moto through SQS into the Lambda entry; blob triggers and Event Grid
events on Azurite into the registered Azure functions; Eventarc events and Pub/Sub push
notifications of gcp-storage-emulator objects into the Google entries. Each good file gets
its manifest beside it, in the same storage; a redelivered upload runs once; an empty file is
dead-lettered with its error. (The local folder provider: test_upload_local.py.)"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import azure.functions as func
import pytest

from adapters import aws, azure
from adapters.aws.dlq import SQSSink
from adapters.azure.dlq import QueueSink
from portable import storage
from portable._sqlite import SQLiteSink
from samples.upload import MANIFEST_SUFFIX, app
from tests.aws.emulator import MotoServer
from tests.aws.mapping import EventSourceMapping, Queue
from tests.azure import _host
from tests.azure.contract_backends import Azurite
from tests.azure.contract_backends import unique as fresh
from tests.gcp.gcs_emulator import new_bucket
from tests.samples.support import eventarc, finalized, gcs_notification, push, served, wrapper

PDF = b"%PDF-1.7\n" + b"x" * 5000
FILES = {"report.pdf": PDF, "notes.txt": b"plain words\n", "empty.csv": b""}


def check_manifest(url: str, content: bytes, content_type: str) -> None:
    manifest = json.loads(storage.read(url + MANIFEST_SUFFIX))
    assert manifest["source"] == url
    assert (manifest["size"], manifest["sha256"], manifest["content_type"]) == (
        len(content), hashlib.sha256(content).hexdigest(), content_type)


# -- AWS ----------------------------------------------------------------------------------------


def test_s3_uploads_through_sqs_into_the_lambda_entry(
        moto_server: MotoServer, boto: Any, unique: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    s3, sqs = boto("s3"), boto("sqs")
    bucket = unique("uploads")
    queue = Queue(sqs, sqs.create_queue(QueueName=unique("uploads"))["QueueUrl"])
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue.arn, "Events": ["s3:ObjectCreated:*"]}]})
    letters = f"sqs://{unique('letters')}?create=true&wait=0"
    entry = wrapper("upload", "aws", monkeypatch, PORTABLE_DLQ=letters,
                    PORTABLE_STORE=f"dynamodb://{unique('idempotency')}?create=true")
    mapping = EventSourceMapping(queue, entry.lambda_handler)
    for name, content in FILES.items():
        s3.put_object(Bucket=bucket, Key=f"in/{name}", Body=content)
    mapping.drain()  # the uploads, then the manifests they wrote (skipped by the handler)

    check_manifest(f"s3://{bucket}/in/report.pdf", PDF, "application/pdf")
    check_manifest(f"s3://{bucket}/in/notes.txt", FILES["notes.txt"], "text/plain")
    assert not any(key.endswith(MANIFEST_SUFFIX + MANIFEST_SUFFIX) for key in _keys(s3, bucket))
    [letter] = SQSSink.from_url(letters).list()
    assert "is empty" in letter.error["message"]
    assert letter.event is not None and letter.event["subject"] == "in/empty.csv"

    # SQS delivers the report's notification again: it does not run again.
    sqs.send_message(QueueUrl=queue.url, MessageBody=_body_of(mapping, "in/report.pdf"))
    mapping.drain()
    assert mapping.responses[-1] == {"batchItemFailures": []}
    versions = s3.list_object_versions(Bucket=bucket, Prefix="in/report.pdf" + MANIFEST_SUFFIX)
    assert len(versions["Versions"]) == 1  # one manifest written, once


def _keys(s3: Any, bucket: str) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def _body_of(mapping: EventSourceMapping, key: str) -> str:
    return next(str(record["body"]) for batch in mapping.batches for record in batch["Records"]
                if [event["subject"] for event in aws.to_cloudevents({"Records": [record]})]
                == [key])


# -- Azure --------------------------------------------------------------------------------------


@pytest.fixture
def uploads(azurite_env: Azurite, blob_service: Any) -> Any:
    """The container the sample's blob trigger watches ("uploads"), shared by the session's
    tests: each test uses blob names of its own."""
    container = blob_service.get_container_client("uploads")
    if not container.exists():
        container.create_container()
    return container


def test_blob_trigger_of_the_function_app_streams_the_blob_and_writes_the_manifest(
        uploads: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    dlq = f"azqueue://{fresh('dlq')}?create=true"
    function_app = wrapper("upload", "azure", monkeypatch, PORTABLE_DLQ=dlq,
                           PORTABLE_STORE=f"azuretable://{fresh('idem')}?create=true")
    [function] = [f for name, f in _host.index(function_app.app).items()
                  if f.trigger["type"] == "blobTrigger"]
    assert function.trigger["path"] == "uploads/{name}"
    prefix = fresh("t")
    for name, content in FILES.items():
        uploads.upload_blob(f"{prefix}/{name}", content)
        function(uploads.get_blob_client(f"{prefix}/{name}"))  # the host binds an SDK client
    base = uploads.get_blob_client(prefix).url
    check_manifest(f"{base}/report.pdf", PDF, "application/pdf")
    check_manifest(f"{base}/notes.txt", FILES["notes.txt"], "text/plain")
    [letter] = QueueSink.from_url(dlq).list()  # acknowledged: the host does not retry it
    assert "is empty" in letter.error["message"]

    # The same blob version triggered again (another instance, a host restart): no new run.
    manifest = uploads.get_blob_client(f"{prefix}/report.pdf{MANIFEST_SUFFIX}")
    written = manifest.get_blob_properties().etag
    function(uploads.get_blob_client(f"{prefix}/report.pdf"))
    assert manifest.get_blob_properties().etag == written


def test_event_grid_blob_created_events_into_the_registered_function(
        uploads: Any, azurite_env: Azurite) -> None:
    functions = func.FunctionApp()
    azure.register(functions, app, event_grid=True, store="memory://", dlq="memory://")
    function = _host.index(functions)["portable_event_grid"]
    name = f"{fresh('g')}/report.pdf"
    blob = uploads.get_blob_client(name)
    blob.upload_blob(PDF, content_settings=_content("application/octet-stream"))
    properties = blob.get_blob_properties()
    event = {
        "topic": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/"
                 "devstoreaccount1",
        "subject": f"/blobServices/default/containers/uploads/blobs/{name}",
        "eventType": "Microsoft.Storage.BlobCreated", "id": fresh("eg"),
        "eventTime": "2026-05-01T10:00:00Z", "dataVersion": "", "metadataVersion": "1",
        "data": {"api": "PutBlob", "eTag": properties.etag, "contentType":
                 "application/octet-stream", "contentLength": len(PDF),
                 "blobType": "BlockBlob", "url": blob.url, "sequencer": "01"}}
    function(_host.event_grid_event(event))
    check_manifest(blob.url, PDF, "application/pdf")  # the signature beats the declared type
    manifest = uploads.get_blob_client(name + MANIFEST_SUFFIX)
    written = manifest.get_blob_properties().etag
    function(_host.event_grid_event(event))  # Event Grid delivers at least once
    assert manifest.get_blob_properties().etag == written


def _content(content_type: str) -> Any:
    from azure.storage.blob import ContentSettings

    return ContentSettings(content_type=content_type)


# -- Google Cloud -------------------------------------------------------------------------------


def test_eventarc_and_push_notifications_of_gcs_objects_into_the_google_entries(
        gcs: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    bucket = new_bucket(gcs, "uploads")
    resources = {}
    for name, content in FILES.items():
        blob = bucket.blob(f"in/{name}")
        blob.upload_from_string(content, content_type="application/octet-stream")
        blob.reload()
        resources[name] = blob._properties
    letters = tmp_path / "letters.db"
    environment = {"PORTABLE_STORE": f"sqlite:///{tmp_path}/idempotency.db",
                   "PORTABLE_DLQ": f"sqlite:///{letters}"}

    main = served("upload", "main", monkeypatch, **environment)
    report = finalized(resources["report.pdf"])
    assert eventarc(main, report).status_code == 200
    empty = eventarc(main, finalized(resources["empty.csv"]))
    assert empty.status_code == 200  # dead-lettered and acknowledged

    manifest = bucket.get_blob("in/report.pdf" + MANIFEST_SUFFIX)
    assert manifest.content_type == "application/json"
    assert eventarc(main, report).status_code == 200  # Eventarc delivers at least once
    assert bucket.get_blob(manifest.name).generation == manifest.generation  # not run again

    push_entry = served("upload", "push", monkeypatch, **environment)
    data, attributes = gcs_notification(resources["notes.txt"])
    first = push(push_entry, data, attributes, message_id="n-1")
    again = push(push_entry, data, attributes, message_id="n-1", attempt=2)
    assert (first.status_code, first.json) == (200, {"events": 1, "processed": 1})
    assert (again.status_code, again.json) == (200, {"events": 1, "duplicate": 1})

    check_manifest(f"gs://{bucket.name}/in/report.pdf", PDF, "application/pdf")
    check_manifest(f"gs://{bucket.name}/in/notes.txt", FILES["notes.txt"], "text/plain")
    [letter] = SQLiteSink(f"sqlite:///{letters}").list()
    assert "is empty" in letter.error["message"] and letter.provider == "gcp"
