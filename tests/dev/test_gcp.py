"""`portable dev --gcp`: Pub/Sub messages pushed by the emulator reach the push entry, objects
in gcp-storage-emulator reach the Eventarc entry, and no Java process outlives Ctrl-C."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.dev.support import DevRun, eventually, session_members

ORDER = {"ce-specversion": "1.0", "ce-id": "order-7", "ce-source": "/shop",
         "ce-type": "com.example.order.created", "ce-subject": "orders/7",
         "content-type": "application/json"}


def marker(bucket: Any, name: str) -> Any:
    blob = bucket.blob(f"done/{name}")
    return json.loads(blob.download_as_bytes()) if blob.exists() else None


@pytest.mark.usefixtures("gcp_emulators_installed")
def test_messages_and_objects_reach_the_entries(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from google.cloud import pubsub_v1, storage

    dev = DevRun(tmp_path, "--gcp")
    try:
        for name, value in dev.ready().items():
            monkeypatch.setenv(name, value)  # what the printed export lines tell a user to do
        dev.wait_for("push subscription events-push")
        publisher = pubsub_v1.PublisherClient()
        topic = publisher.topic_path("portable-dev", "events")

        publisher.publish(topic, json.dumps({"total": 7}).encode(), **ORDER).result()
        line = dev.wait_for("com.example.order.created", "orders/7", "processed")
        assert line.startswith("gcp") and "attempt 1" in line
        assert json.loads((dev.markers / "order-7.json").read_text())["data"] == {"total": 7}
        flaky = {**ORDER, "ce-id": "order-8", "ce-subject": "orders/8"}
        publisher.publish(topic, json.dumps({"flaky": True}).encode(), **flaky).result()
        dev.wait_for("orders/8", "retry", "attempt 1")  # 500: the emulator pushes it again
        dev.wait_for("orders/8", "processed", "attempt 2")
        publisher.publish(topic, b"plain text").result()
        dev.wait_for("google.cloud.pubsub.topic.v1.messagePublished", "processed")

        bucket = storage.Client().bucket("uploads")
        bucket.blob("photos/cat.jpg").upload_from_string(b"meow")
        line = dev.wait_for("google.cloud.storage.object.v1.finalized", "objects/photos/cat.jpg")
        assert "processed" in line
        assert eventually(lambda: marker(bucket, "photos/cat.jpg"), "the marker") == {
            "key": "photos/cat.jpg", "size": 4, "type": "google.cloud.storage.object.v1.finalized",
            "content": "meow"}
        bucket.blob("photos/cat.jpg").delete()
        dev.wait_for("google.cloud.storage.object.v1.deleted", "objects/photos/cat.jpg",
                     "processed")
        assert "java" in " ".join(session_members(dev.proc.pid).values())
    finally:
        assert dev.stop() == 0


@pytest.mark.usefixtures("gcp_emulators_installed")
def test_sigterm_while_the_emulators_start_leaves_nothing(tmp_path: Path) -> None:
    dev = DevRun(tmp_path, "--gcp")
    dev.wait_for("starting pubsub-emulator")
    assert dev.stop(signal.SIGTERM) == 0  # stop() fails if a Java server outlived gcloud
    assert "SIGTERM: stopping" in dev.output() and "ready:" not in dev.output()
