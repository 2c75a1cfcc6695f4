"""`portable dev --azure`: blobs and queue messages in Azurite reach the blob and queue
triggers through the host's stand-ins; the handler's marker lands in Azurite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.dev.support import DevRun, eventually, session_members

ORDER = {"specversion": "1.0", "id": "order-1", "source": "/shop",
         "type": "com.example.order.created", "subject": "orders/1",
         "datacontenttype": "application/json", "data": {"total": 3}}


def marker(container: Any, name: str) -> Any:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return json.loads(container.get_blob_client(f"done/{name}").download_blob().readall())
    except ResourceNotFoundError:
        return None


@pytest.mark.usefixtures("azurite_installed")
def test_blobs_and_queue_messages_reach_the_triggers(tmp_path: Path) -> None:
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueClient, TextBase64EncodePolicy

    dev = DevRun(tmp_path, "--azure")
    try:
        connection = dev.ready()["AzureWebJobsStorage"]
        dev.wait_for("container uploads -> blob scanner")
        container = BlobServiceClient.from_connection_string(connection).get_container_client(
            "uploads")

        container.upload_blob("photos/cat.jpg", b"meow")
        line = dev.wait_for("containers/uploads/blobs/photos/cat.jpg", "processed")
        assert line.startswith("azure") and "Microsoft.Storage.BlobCreated" in line
        assert eventually(lambda: marker(container, "photos/cat.jpg"), "the marker") == {
            "key": "photos/cat.jpg", "size": 4, "type": "Microsoft.Storage.BlobCreated",
            "content": "meow"}
        container.upload_blob("photos/cat.jpg", b"purr!", overwrite=True)  # a new ETag
        eventually(lambda: (marker(container, "photos/cat.jpg") or {}).get("content") == "purr!",
                   "the marker of the changed blob")

        # as the Functions host expects it (base64), and a flaky one that needs two dequeues
        queue = QueueClient.from_connection_string(
            connection, "events", message_encode_policy=TextBase64EncodePolicy())
        queue.send_message(json.dumps(ORDER))
        line = dev.wait_for("com.example.order.created", "orders/1", "processed")
        assert line.startswith("azure") and "attempt 1" in line
        assert json.loads((dev.markers / "order-1.json").read_text())["data"] == {"total": 3}
        flaky = queue.send_message(json.dumps({"flaky": True}))
        dev.wait_for("Microsoft.Storage.QueueMessage", "retry", "attempt 1")
        dev.wait_for("Microsoft.Storage.QueueMessage", "processed", "attempt 2")
        assert json.loads((dev.markers / f"{flaky.id}.json").read_text())["attempt"] == 2
        assert "azurite" in " ".join(session_members(dev.proc.pid).values())
    finally:
        assert dev.stop() == 0
