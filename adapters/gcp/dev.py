"""``portable dev --gcp``: Pub/Sub messages and Cloud Storage objects reach the Google Cloud
entries, served by functions-framework as on Cloud Run functions.

    publish -> topic ``events`` -> push subscription ``events-push`` (the emulator pushes)
    -> ``gcp.push_handler(handle)`` at ``/gcp/push/projects/P/topics/events``
    upload -> bucket ``uploads`` -> the generation poller -> Eventarc-shaped storage CloudEvent
    -> ``gcp.cloud_function(handle)`` at ``/gcp/storage``

The Pub/Sub path is the platform's own: the emulator's push subscription POSTs the push
envelope, and answers other than 2xx make it redeliver. The emulator sends no
``deliveryAttempt``, so the store counts deliveries and the push entry is given
``max_attempts`` (:data:`PUSH_ATTEMPTS`) where a subscription's dead-letter policy would say it.

gcp-storage-emulator sends no notifications, so a poller lists the bucket and delivers what
Eventarc would: ``google.cloud.storage.object.v1.finalized`` for each new generation,
``...deleted`` for a removed object and for the generation an overwrite replaced (with
``overwrittenByGeneration``, as Cloud Storage reports it in a bucket without versioning); the
data is the object resource, source ``//storage.googleapis.com/projects/_/buckets/<bucket>``,
subject ``objects/<name>``, the id a hash of bucket, name, generation and type. Events go in
structured mode (any valid CloudEvents HTTP request; object names need not be header-safe).
Eventarc retries nothing by default, and neither does the poller. Objects already in the
bucket when ``portable dev`` starts are not delivered.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from portable._app import App, Handler
from portable._dev import post, require_extra
from portable._dev_router import View, dev_options
from portable._emulators import Process
from portable._events import content_id, new_event, to_json
from portable._net import free_port
from portable.storage import GCP_PREFIX

from ._pubsub import STORAGE_SERVICE
from .entry import cloud_function, push_handler

PROJECT = "portable-dev"
TOPIC = "events"
SUBSCRIPTION = "events-push"
BUCKET = "uploads"
PUSH_ATTEMPTS = 5
ACK_DEADLINE = 60
PUBSUB_INSTALL = "gcloud components install pubsub-emulator (and Java 17+)"
GCS_INSTALL = "pip install gcp-storage-emulator"
GCS_LAUNCHER = "from gcp_storage_emulator.__main__ import main; import sys; sys.exit(main())"


def pubsub_process(port: int) -> Process:
    """gcloud's emulator: gcloud waits for its Java server, so Java is stopped first."""
    return Process("pubsub-emulator", ["gcloud", "beta", "emulators", "pubsub", "start",
                                       f"--host-port=127.0.0.1:{port}", "--quiet"], (port,),
                   install=PUBSUB_INSTALL, binary="gcloud", ready_url=f"http://127.0.0.1:{port}/",
                   stop_first=("java",))


def storage_process(port: int) -> Process:
    return Process("gcp-storage-emulator", [sys.executable, "-c", GCS_LAUNCHER, "start",
                                            "--host=127.0.0.1", f"--port={port}", "--in-memory",
                                            "--quiet"], (port,),
                   install=GCS_INSTALL, modules=("gcp_storage_emulator",),
                   ready_url=f"http://127.0.0.1:{port}/storage/v1/b?project={PROJECT}")


# -- the served side ----------------------------------------------------------------------------

def routes(target: App | Handler, options: dict[str, Any]) -> dict[str, View]:
    entries: dict[str, View] = {
        "push": push_handler(target, **dev_options(target, options, PUSH_ATTEMPTS)),
        "storage": cloud_function(target, **options),
    }

    def view(request: Any) -> Any:
        parts = str(request.path).strip("/").split("/")
        entry = entries.get(parts[1] if len(parts) > 1 else "")
        if entry is None:
            return '{"error": "POST to /gcp/push/... or /gcp/storage"}', 404
        return entry(request)

    return {"gcp": view}


# -- the dev side -------------------------------------------------------------------------------

class Source:
    name = "gcp"

    def __init__(self) -> None:
        require_extra("gcp", "google.cloud.pubsub")
        require_extra("gcp", "google.cloud.storage")
        self.project = os.environ.get("GOOGLE_CLOUD_PROJECT") or PROJECT
        self.pubsub_host, self.pubsub = _emulator("PUBSUB_EMULATOR_HOST", "127.0.0.1:{}",
                                                  pubsub_process)
        self.storage_host, self.storage = _emulator("STORAGE_EMULATOR_HOST",
                                                    "http://127.0.0.1:{}", storage_process)
        self.subscriber: Any = None
        self.gcs: Any = None
        self.subscription = ""
        self.storage_url = ""
        self.objects: dict[str, dict[str, Any]] = {}

    def processes(self) -> list[Process]:
        return [process for process in (self.pubsub, self.storage) if process]

    def settings(self) -> dict[str, str]:
        return {"PUBSUB_EMULATOR_HOST": self.pubsub_host,
                "STORAGE_EMULATOR_HOST": self.storage_host,
                "GOOGLE_CLOUD_PROJECT": self.project}

    def wire(self, served: str) -> list[str]:
        from google.api_core.exceptions import AlreadyExists, Conflict
        from google.cloud import pubsub_v1, storage

        publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()
        topic = publisher.topic_path(self.project, TOPIC)
        self.subscription = self.subscriber.subscription_path(self.project, SUBSCRIPTION)
        endpoint = f"{served}/gcp/push/{topic}"
        with contextlib.suppress(AlreadyExists):
            publisher.create_topic(name=topic)
        try:
            self.subscriber.create_subscription(request={
                "name": self.subscription, "topic": topic, "ack_deadline_seconds": ACK_DEADLINE,
                "push_config": {"push_endpoint": endpoint}})
        except AlreadyExists:  # an emulator that was already running: point it here
            self.subscriber.modify_push_config(request={
                "subscription": self.subscription, "push_config": {"push_endpoint": endpoint}})
        publisher.transport.close()
        self.gcs = storage.Client(project=self.project)
        with contextlib.suppress(Conflict):
            self.gcs.create_bucket(BUCKET)
        self.storage_url = f"{served}/gcp/storage"
        self.objects = self._listing()
        return [
            f"gcp    Pub/Sub {topic} -> push subscription {SUBSCRIPTION} -> push entry at "
            f"{endpoint}",
            f"gcp    gs://{BUCKET} -> generation poller (gcp-storage-emulator sends no "
            f"notifications) -> Eventarc entry at {self.storage_url}",
            f"gcp    push: dead letter on delivery {PUSH_ATTEMPTS}; storage: Eventarc retries "
            "nothing, so a failure is dead-lettered at once",
        ]

    def poll(self) -> None:
        current = self._listing()
        for name, gone in self.objects.items():
            now = current.get(name)
            if now is None:
                self._deliver("deleted", gone)
            elif now.get("generation") != gone.get("generation"):
                self._deliver("deleted", {**gone, "overwrittenByGeneration": now["generation"]})
        for name, resource in current.items():
            before = self.objects.get(name)
            if before is None or resource.get("generation") != before.get("generation"):
                self._deliver("finalized", resource)
        self.objects = current

    def _listing(self) -> dict[str, dict[str, Any]]:
        return {blob.name: dict(blob._properties) for blob in self.gcs.list_blobs(BUCKET)}

    def _deliver(self, kind: str, resource: dict[str, Any]) -> None:
        event = storage_event(kind, resource)
        post(self.storage_url, to_json(event).encode("utf-8"),
             {"Content-Type": "application/cloudevents+json"})

    def close(self) -> None:
        if self.subscriber is not None:
            if self.pubsub is None:  # the user's emulator: stop pushing to a closed port
                with contextlib.suppress(Exception):
                    self.subscriber.modify_push_config(request={
                        "subscription": self.subscription, "push_config": {}})
            self.subscriber.close()
        if self.gcs is not None:
            self.gcs.close()


def _emulator(setting: str, address: str,
              process: Callable[[int], Process]) -> tuple[str, Process | None]:
    """The address in ``setting``, or one on a free port with the emulator to start there."""
    existing = os.environ.get(setting)
    if existing:
        return existing, None
    port = free_port()
    return address.format(port), process(port)


def storage_event(kind: str, resource: dict[str, Any]) -> Any:
    """The CloudEvent Eventarc delivers for a Cloud Storage object change."""
    bucket, name = resource.get("bucket", BUCKET), resource["name"]
    event_type = GCP_PREFIX + kind
    when = resource.get("updated") if kind == "finalized" else None
    return new_event({
        "id": content_id(bucket, name, resource.get("generation"), event_type),
        "source": f"//{STORAGE_SERVICE}/projects/_/buckets/{bucket}",
        "type": event_type,
        "subject": f"objects/{name}",
        "time": when or datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
    }, resource)
