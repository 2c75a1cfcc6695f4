"""What the Functions host does with Azure Storage around a blob or queue trigger, against
Azurite: find blob versions, retry a failing function up to ``maxDequeueCount`` times, then
write the poison message; dequeue queue messages, make them visible again after a failure,
move them to ``<queue>-poison`` after the last attempt. The function itself is called the way
tests/azure/_host.py calls it (binding objects built by azure.functions' converters)."""

from __future__ import annotations

import base64
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import ResourceExistsError

from adapters.azure._platform import BLOB_POISON_QUEUE
from tests.azure import _host

MAX_DEQUEUE_COUNT = 5  # host.json extensions.queues.maxDequeueCount (the default)


def blob_trigger_properties(properties: Any) -> dict[str, Any]:
    """The trigger's ``Properties`` metadata for a blob, as the v5 storage extension
    serializes Azure.Storage.Blobs' BlobProperties (BlobType numbered 0 = block)."""
    return {
        "ETag": properties.etag,
        "ContentType": properties.content_settings.content_type,
        "ContentLength": properties.size,
        "BlobType": 0,
        "CreatedOn": properties.creation_time.isoformat(),
        "LastModified": properties.last_modified.isoformat(),
    }


def existing(queue: Any) -> Any:
    """The queue, created if it was not there (as the host creates its poison queues)."""
    with contextlib.suppress(ResourceExistsError):
        queue.create_queue()
    return queue


def poison_message(container: str, blob: str, etag: str, function: str = "App.Functions.f",
                   *, base64_encoded: bool = True) -> str:
    """The host's BlobTrigger poison message (SEMANTICS.md), as queue message text."""
    body = json.dumps({"Type": "BlobTrigger", "FunctionId": function, "BlobType": "BlockBlob",
                       "ContainerName": container, "BlobName": blob, "ETag": f'"{etag}"'})
    return base64.b64encode(body.encode()).decode() if base64_encoded else body


@dataclass
class BlobHost:
    """The blob trigger of one function on one container."""

    container: Any
    function: _host.Loaded
    queues: Any
    poison_queue: str = BLOB_POISON_QUEUE

    def scan(self) -> list[str]:
        """Trigger every blob of the container (each current version); the names, in order."""
        names = sorted(blob.name for blob in self.container.list_blobs())
        for name in names:
            self.trigger(name)
        return names

    def trigger(self, name: str) -> bool:
        """Deliver one blob version until the function succeeds or its attempts run out (then
        the poison message). True when the function succeeded."""
        client = self.container.get_blob_client(name)
        for _ in range(MAX_DEQUEUE_COUNT):
            content = client.download_blob()
            properties = content.properties
            stream = _host.input_stream(
                content.readall(), name=f"{self.container.container_name}/{name}",
                uri=client.url, properties=blob_trigger_properties(properties))
            try:
                self.function(stream)
            except Exception:  # noqa: BLE001 - the host logs it and tries again
                continue
            return True
        poison = existing(self.queues.get_queue_client(self.poison_queue))
        poison.send_message(poison_message(self.container.container_name, name,
                                           properties.etag, f"App.Functions.{self.function.name}"))
        return False


@dataclass
class QueueHost:
    """The queue trigger of one function on one queue (messageEncoding base64)."""

    queue: Any
    function: _host.Loaded
    queues: Any
    dequeues: list[tuple[str, int]] = field(default_factory=list)

    def drain(self) -> None:
        """Dequeue until the queue is empty, as the host's listener does."""
        while True:
            batch = list(self.queue.receive_messages(max_messages=16, visibility_timeout=30))
            if not batch:
                return
            for message in batch:
                self._run(message)

    def _run(self, message: Any) -> None:
        self.dequeues.append((message.id, message.dequeue_count))
        binding = _host.queue_message(
            base64.b64decode(message.content), message_id=message.id,
            dequeue_count=message.dequeue_count, inserted=message.inserted_on.isoformat())
        try:
            self.function(binding)
        except Exception:  # noqa: BLE001 - the host logs it and tries again
            if message.dequeue_count >= MAX_DEQUEUE_COUNT:
                poison = existing(self.queues.get_queue_client(f"{self.queue.queue_name}-poison"))
                poison.send_message(message.content)
                self.queue.delete_message(message)
            else:  # visibilityTimeout 0: at once
                self.queue.update_message(message, visibility_timeout=0)
            return
        self.queue.delete_message(message)
