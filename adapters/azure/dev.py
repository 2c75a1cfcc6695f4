"""``portable dev --azure``: blobs and queue messages in Azurite reach the functions that
``azure.register`` adds, the way the Functions host delivers them.

    upload_blob -> container ``uploads`` -> the blob scanner -> blob trigger ``portable_blob``
    send_message -> queue ``events`` -> the queue listener -> queue trigger ``portable_queue``

The scanner and the listener stand in for the Functions host: the scanner lists the container
and triggers each blob whose ETag it has not delivered yet (new or changed blobs, as the host's
scanner finds them by their receipts); the listener receives up to 16 messages at a time and
decodes them (base64, the host's default ``messageEncoding``, or plain JSON). Each invocation
goes to the served process (``POST /azure/<function>``) with the trigger's data and metadata;
there the binding object is built by azure.functions' own converters, as the Python worker
builds it (an ``InputStream`` with ``Properties`` as the storage extension serializes them, a
``QueueMessage`` with its dequeue count), and the registered function is called. A function
that raises is invoked again: a blob on the next scan, a message at once (visibility timeout
0, the host's default), up to ``maxDequeueCount`` (5) times; then the host's poison message
(``webjobs-blobtrigger-poison``, ``events-poison``). The pipeline dead-letters on the fifth
attempt itself, so a poison message means the dead letter could not be stored.

Blobs already in the container when ``portable dev`` starts are not delivered; deletions are
not events for a blob trigger.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import uuid
from collections.abc import Mapping
from typing import Any

import azure.functions as func
from azure.functions import meta
from azure.functions.blob import BlobConverter
from azure.functions.queue import QueueMessageInConverter

from portable._app import App, Handler
from portable._dev import post, require_extra
from portable._dev_router import View
from portable._emulators import Process
from portable._net import free_port

from . import _queue
from ._blob import _NUMBERED_BLOB_TYPES
from ._platform import BLOB_POISON_QUEUE
from ._storage import DEFAULT_SETTING, DEV_ACCOUNT, DEV_KEY, service_client
from .entry import register

CONTAINER = "uploads"
QUEUE = "events"
PREFIX = "portable"
BLOB_FUNCTION = f"{PREFIX}_blob"
QUEUE_FUNCTION = f"{PREFIX}_queue"
MAX_DEQUEUE_COUNT = 5
BATCH = 16
VISIBILITY = 30
INSTALL = "npm install -g azurite"
SERVICES = ("blob", "queue", "table")
CONVERTERS: dict[str, Any] = {"blobTrigger": BlobConverter,
                              "queueTrigger": QueueMessageInConverter}
"""The worker's converter for each trigger type of function.json."""
# BlobType as the storage extension (v5) numbers it in a blob trigger's Properties.
BLOB_TYPE_NUMBERS = {name: number for number, name in _NUMBERED_BLOB_TYPES["CreatedOn"].items()}


def azurite_process(ports: Mapping[str, int]) -> Process:
    command = ["azurite", "--silent", "--skipApiVersionCheck", "--disableTelemetry", "--loose",
               "--inMemoryPersistence", "--extentMemoryLimit", "256"]
    for service, port in ports.items():
        command += [f"--{service}Host", "127.0.0.1", f"--{service}Port", str(port)]
    return Process("azurite", command, tuple(ports.values()), install=INSTALL, binary="azurite")


def connection_string(ports: Mapping[str, int]) -> str:
    endpoints = ";".join(f"{service.capitalize()}Endpoint=http://127.0.0.1:{port}/{DEV_ACCOUNT}"
                         for service, port in ports.items())
    return (f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"{endpoints}")


# -- the served side: the worker's part of an invocation --------------------------------------

def routes(target: App | Handler, options: dict[str, Any]) -> dict[str, View]:
    app = func.FunctionApp()
    register(app, target, blob=f"{CONTAINER}/{{name}}", queue=QUEUE, prefix=PREFIX, **options)
    return {"azure": Worker(app).invoke}


class Worker:
    """Calls the app's functions with the binding objects azure.functions builds."""

    def __init__(self, app: Any) -> None:
        self.functions: dict[str, tuple[dict[str, Any], Any]] = {}
        logging.disable(logging.WARNING)  # indexing warns that auth levels need HTTP functions
        try:
            indexed = app.get_functions()
        finally:
            logging.disable(logging.NOTSET)
        for function in indexed:
            bindings = json.loads(function.get_function_json())["bindings"]
            trigger = next(b for b in bindings if str(b["type"]).endswith("Trigger"))
            self.functions[function.get_function_name()] = (trigger, function.get_user_function())

    def invoke(self, request: Any) -> Any:
        """``POST /azure/<function>`` with ``{"data": base64, "metadata": {...}}``."""
        name = str(request.path).rstrip("/").rsplit("/", 1)[-1]
        if name not in self.functions:
            return _answer({"error": f"no function {name!r}"}, 404)
        trigger, function = self.functions[name]
        body = request.get_json(silent=True) or {}
        binding = _decode(trigger["type"], base64.b64decode(body.get("data") or ""),
                          body.get("metadata") or {})
        context = InvocationContext(name, request.headers.get("X-Invocation-Id")
                                    or str(uuid.uuid4()))
        try:
            function(**{trigger["name"]: binding, "context": context})
        except Exception as exc:  # noqa: BLE001 - the host logs it and tries again
            return _answer({"status": "Failed", "error": f"{type(exc).__name__}: {exc}"}, 500)
        return _answer({"status": "Succeeded"}, 200)


def _decode(trigger_type: str, data: bytes, metadata: Mapping[str, Any]) -> Any:
    """The binding object of a trigger, from its data and metadata."""
    typed = {name: meta.Datum(json.dumps(value), "json") if isinstance(value, dict)
             else meta.Datum(value, "int" if isinstance(value, int) else "string")
             for name, value in metadata.items()}
    return CONVERTERS[trigger_type].decode(meta.Datum(data, "bytes"), trigger_metadata=typed)


class InvocationContext(func.Context):
    """The host's invocation context, as far as a function reads it."""

    def __init__(self, name: str, invocation_id: str) -> None:
        self._name, self._invocation_id = name, invocation_id

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def function_name(self) -> str:
        return self._name

    @property
    def function_directory(self) -> str:
        return os.getcwd()

    @property
    def thread_local_storage(self) -> Any:
        return None

    @property
    def trace_context(self) -> Any:
        return None

    @property
    def retry_context(self) -> Any:
        return None


def _answer(body: dict[str, Any], status: int) -> tuple[str, int, dict[str, str]]:
    return json.dumps(body), status, {"Content-Type": "application/json"}


# -- the dev side: Azurite, the wiring, the host's scanner and listener ------------------------

class Source:
    name = "azure"

    def __init__(self) -> None:
        require_extra("azure", "azure.storage.blob")
        self.existing = os.environ.get(DEFAULT_SETTING)
        self.ports = {service: free_port() for service in SERVICES}
        self.azurite = None if self.existing else azurite_process(self.ports)
        self.served = ""
        self.container: Any = None
        self.queue: Any = None
        self.queues: Any = None
        self.delivered: dict[str, str] = {}  # blob name -> ETag delivered
        self.failures: dict[tuple[str, str], int] = {}

    def processes(self) -> list[Process]:
        return [self.azurite] if self.azurite else []

    def settings(self) -> dict[str, str]:
        return {DEFAULT_SETTING: self.existing or connection_string(self.ports)}

    def wire(self, served: str) -> list[str]:
        from azure.core.exceptions import ResourceExistsError

        self.served = served
        self.container = service_client("blob").get_container_client(CONTAINER)
        self.queues = service_client("queue")
        self.queue = self.queues.get_queue_client(QUEUE)
        for create in (self.container.create_container, self.queue.create_queue):
            with contextlib.suppress(ResourceExistsError):
                create()
        self.delivered = self._versions()
        return [
            f"azure  container {CONTAINER} -> blob scanner (Functions host stand-in: new or "
            f"changed ETags) -> blob trigger {BLOB_FUNCTION} at {served}/azure/{BLOB_FUNCTION}",
            f"azure  queue {QUEUE} (messages base64, as the host expects, or plain JSON) -> "
            f"queue listener -> queue trigger {QUEUE_FUNCTION}",
            f"azure  {MAX_DEQUEUE_COUNT} attempts, then dead letter; poison queues (if that "
            f"fails): {BLOB_POISON_QUEUE}, {QUEUE}-poison",
        ]

    def poll(self) -> None:
        self._scan()
        self._listen()

    def _scan(self) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        current = self._versions()
        for name in list(self.delivered):
            if name not in current:
                del self.delivered[name]
        for name, etag in current.items():
            if self.delivered.get(name) != etag:
                with contextlib.suppress(ResourceNotFoundError):  # deleted since listed
                    self._trigger(name)

    def _versions(self) -> dict[str, str]:
        """Blob name -> ETag (unquoted: listings and downloads quote it differently)."""
        return {blob.name: _unquoted(blob.etag) for blob in self.container.list_blobs()}

    def _trigger(self, name: str) -> None:
        client = self.container.get_blob_client(name)
        download = client.download_blob()
        properties = download.properties
        ok = self._invoke(BLOB_FUNCTION, download.readall(), {
            "BlobTrigger": f"{CONTAINER}/{name}", "Uri": client.url,
            "Properties": trigger_properties(properties)})
        etag = _unquoted(properties.etag)
        if not ok:
            self.failures[(name, etag)] = self.failures.get((name, etag), 0) + 1
            if self.failures[(name, etag)] < MAX_DEQUEUE_COUNT:
                return
            self._poison(BLOB_POISON_QUEUE, _encode(poison_message(name, etag)))
        self.failures.pop((name, etag), None)
        self.delivered[name] = etag

    def _listen(self) -> None:
        for message in self.queue.receive_messages(max_messages=BATCH,
                                                   visibility_timeout=VISIBILITY):
            body = _queue.decode(message.content).encode("utf-8")
            ok = self._invoke(QUEUE_FUNCTION, body, {
                "Id": message.id, "DequeueCount": message.dequeue_count,
                "InsertionTime": message.inserted_on.isoformat(),
                "ExpirationTime": message.expires_on.isoformat(),
                "NextVisibleTime": message.next_visible_on.isoformat(),
                "PopReceipt": message.pop_receipt})
            if ok:
                self.queue.delete_message(message)
            elif message.dequeue_count >= MAX_DEQUEUE_COUNT:
                self._poison(f"{QUEUE}-poison", message.content)
                self.queue.delete_message(message)
            else:
                self.queue.update_message(message, visibility_timeout=0)

    def _invoke(self, function: str, data: bytes, metadata: dict[str, Any]) -> bool:
        body = json.dumps({"data": base64.b64encode(data).decode("ascii"),
                           "metadata": metadata}).encode("utf-8")
        status, _ = post(f"{self.served}/azure/{function}", body,
                         {"Content-Type": "application/json",
                          "X-Invocation-Id": str(uuid.uuid4())})
        return 200 <= status < 300

    def _poison(self, queue: str, text: str) -> None:
        from azure.core.exceptions import ResourceExistsError

        client = self.queues.get_queue_client(queue)
        with contextlib.suppress(ResourceExistsError):
            client.create_queue()
        client.send_message(text)

    def close(self) -> None:
        for client in (self.container, self.queue, self.queues):
            if client is not None:
                client.close()


def trigger_properties(properties: Any) -> dict[str, Any]:
    """A blob's ``Properties`` trigger metadata, as the storage extension (v5) serializes
    Azure.Storage.Blobs' BlobProperties."""
    return {
        "ETag": properties.etag,
        "ContentType": properties.content_settings.content_type,
        "ContentLength": properties.size,
        "BlobType": BLOB_TYPE_NUMBERS.get(str(properties.blob_type), 0),
        "CreatedOn": properties.creation_time.isoformat(),
        "LastModified": properties.last_modified.isoformat(),
    }


def poison_message(blob: str, etag: str) -> str:
    """The host's message for a blob version it gave up on."""
    return json.dumps({"Type": "BlobTrigger", "FunctionId": f"Host.Functions.{BLOB_FUNCTION}",
                       "BlobType": "BlockBlob", "ContainerName": CONTAINER, "BlobName": blob,
                       "ETag": f'"{etag}"'})


def _unquoted(etag: str) -> str:
    return etag.strip('"')


def _encode(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")
