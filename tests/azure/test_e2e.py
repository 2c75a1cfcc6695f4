"""End to end on Azurite: blobs uploaded to Blob storage and events sent to a Storage queue run
through the functions ``azure.register`` adds, delivered as the Functions host delivers them
(tests/azure/_hosting.py: retries up to maxDequeueCount, poison messages), with the Table
store and the queue dead-letter sink. Every blob version and message is processed once or
dead-lettered with its error; nothing is lost."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest
from click.testing import CliRunner
from cloudevents.http import CloudEvent

from adapters import azure
from portable import RetryableError, new_event, storage
from portable._cli import main
from portable._deadletter import DeadLetter
from portable._entry import QUEUE_TRIGGER_ATTEMPTS
from tests.azure import _host, _hosting
from tests.azure.contract_backends import unique
from tests.conftest import REPO


class Handler:
    """Uploads and orders: ``flaky*`` fails once per version/event, ``poison*`` until fixed."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, str | None]] = []
        self.failed: set[str] = set()
        self.fixed = False

    def __call__(self, event: CloudEvent) -> dict[str, Any]:
        if event["type"] == "Microsoft.Storage.BlobCreated":
            obj = storage.object_event(event)
            name, version = obj.key, obj.etag
        else:
            name, version = event.data["order"], None
        self.runs.append((name, version))
        if name.startswith("flaky") and event["id"] not in self.failed:
            self.failed.add(event["id"])
            raise RetryableError(f"{name}: downstream busy")
        if name.startswith("poison") and not self.fixed:
            raise RetryableError(f"{name}: downstream rejects it")
        return {"done": name}

    def count(self, name: str) -> int:
        return sum(1 for run, _ in self.runs if run == name)


HANDLER = Handler()
"""Module-level, so that ``portable dlq replay --handler tests.azure.test_e2e:HANDLER`` and a
sink's ``target=`` reach the same handler."""


@pytest.fixture
def handler() -> Iterator[Handler]:
    HANDLER.__init__()  # type: ignore[misc]
    yield HANDLER


@pytest.fixture
def resources(azurite_env: Any, blob_service: Any, queue_service: Any) -> dict[str, Any]:
    names = {kind: unique(kind) for kind in ("uploads", "events", "idem", "dead", "poison")}
    return {
        **names,
        "container": blob_service.create_container(names["uploads"]),
        "queue": queue_service.create_queue(names["events"]),
        "store": f"azuretable://{names['idem']}?create=true",
        "dlq": f"azqueue://{names['dead']}?create=true&poison={names['poison']}",
    }


def function_app(handler: Handler, resources: dict[str, Any], **options: Any) -> dict[
        str, _host.Loaded]:
    app = func.FunctionApp()
    options = {"store": resources["store"], "dlq": resources["dlq"], "retry": 1, **options}
    azure.register(app, handler, blob=f"{resources['uploads']}/{{name}}",
                   queue=resources["events"], **options)
    return _host.index(app)


def dlq(url: str, *args: str) -> Any:
    result = CliRunner().invoke(main, ["dlq", *args, "--dlq", url])
    assert result.exit_code == 0, result.output
    return result


def test_blob_versions_and_queue_messages_run_once_retry_and_dead_letter(
        handler: Handler, resources: dict[str, Any], queue_service: Any) -> None:
    functions = function_app(handler, resources)
    container = resources["container"]
    blobs = _hosting.BlobHost(container, functions["portable_blob"], queue_service,
                              poison_queue=resources["poison"])
    for name in ("report.csv", "flaky.csv", "poison.csv"):
        container.upload_blob(name, f"content of {name}".encode())

    assert blobs.scan() == ["flaky.csv", "poison.csv", "report.csv"]
    assert (handler.count("report.csv"), handler.count("flaky.csv")) == (1, 2)  # flaky: retried
    assert handler.count("poison.csv") == 5  # the attempt limit; then dead-lettered, no poison

    # The same version triggered twice (another instance, a host restart): it does not run again.
    assert blobs.trigger("report.csv") and blobs.trigger("flaky.csv")
    assert (handler.count("report.csv"), handler.count("flaky.csv")) == (1, 2)
    # A new version of a blob is a new event.
    container.upload_blob("report.csv", b"version 2", overwrite=True)
    assert blobs.trigger("report.csv")
    versions = [version for name, version in handler.runs if name == "report.csv"]
    assert len(versions) == 2 and versions[0] != versions[1]

    # Queue messages sent with the egress, dequeued by the host: retried by dequeue count.
    queue = resources["queue"]
    for order in ("order-1", "flaky-order"):
        event = new_event({"id": order, "source": "/shop", "type": "com.example.order.created"},
                          {"order": order})
        azure.publish(event, f"azqueue://{resources['events']}")
    host = _hosting.QueueHost(queue, functions["portable_queue"], queue_service)
    host.drain()
    assert (handler.count("order-1"), handler.count("flaky-order")) == (1, 2)
    assert sorted(count for _, count in host.dequeues) == [1, 1, 2]

    # Nothing lost: one dead letter (the poison blob, with its error), no poison messages,
    # nothing left in the queue.
    letters = [DeadLetter.from_json(line)
               for line in dlq(resources["dlq"], "list", "--json").output.splitlines()]
    [letter] = letters
    assert letter.event is not None and letter.event["subject"].endswith("/blobs/poison.csv")
    assert letter.attempts == 5 and "downstream rejects it" in letter.error["message"]
    assert letter.provider == "azure"
    assert queue.get_queue_properties().approximate_message_count == 0
    for poison_queue in (resources["poison"], f"{resources['events']}-poison"):
        assert not any(q.name == poison_queue for q in queue_service.list_queues())

    # Fixed: the dead letter replays and leaves the sink.
    handler.fixed = True
    replayed = dlq(resources["dlq"], "replay", "--all", "--handler",
                   "tests.azure.test_e2e:HANDLER")
    assert "replayed 1" in replayed.output
    assert handler.runs[-1][0] == "poison.csv"
    assert "0 dead letter(s)" in dlq(resources["dlq"], "list").output


def test_when_the_sink_is_down_the_host_poisons_the_blob_and_replay_redelivers_it(
        handler: Handler, resources: dict[str, Any], queue_service: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The dead-letter queue does not exist (and is not created): the last attempt cannot
    # store the letter, so the function fails and the host writes its poison message.
    functions = function_app(handler, resources, dlq=f"azqueue://{unique('absent')}")
    container = resources["container"]
    container.upload_blob("poison.csv", b"a,b\n")
    blobs = _hosting.BlobHost(container, functions["portable_blob"], queue_service,
                              poison_queue=resources["poison"])
    assert blobs.trigger("poison.csv") is False
    assert handler.count("poison.csv") == 5

    reader = f"{resources['dlq']}&target=tests.azure.test_e2e:HANDLER"
    [line] = dlq(reader, "list", "--json").output.splitlines()
    letter = json.loads(line)
    assert letter["origin"]["blob"] == "poison.csv" and letter["id"].startswith("poison-")

    handler.fixed = True
    monkeypatch.setenv("PORTABLE_STORE", resources["store"])  # the functions' own store
    replayed = dlq(reader, "replay", letter["id"])
    assert f"sent back to blob trigger of {resources['uploads']}/poison.csv" in replayed.output
    assert handler.count("poison.csv") == 6
    assert "0 dead letter(s)" in dlq(reader, "list").output
    # And the redelivered version is done: the host's next trigger does not run it again.
    assert blobs.trigger("poison.csv") and handler.count("poison.csv") == 6


def test_bad_queue_input_is_dead_lettered_raw_and_acknowledged(
        handler: Handler, resources: dict[str, Any], queue_service: Any) -> None:
    functions = function_app(handler, resources)
    queue = resources["queue"]
    queue.send_message(azure.from_cloudevent(new_event(
        {"id": "o-1", "source": "/shop", "type": "com.example.order.created"},
        {"order": "order-1"}), target="queue"))
    queue.send_message("bm90IGpzb24=")  # base64 of "not json"
    _hosting.QueueHost(queue, functions["portable_queue"], queue_service).drain()
    assert handler.count("order-1") == 1
    [letter] = [DeadLetter.from_json(line)
                for line in dlq(resources["dlq"], "list", "--json").output.splitlines()]
    assert letter.raw_bytes() == b"not json" and letter.event is None
    assert "is not JSON" in letter.error["message"]
    assert queue.get_queue_properties().approximate_message_count == 0


# -- the sample app --------------------------------------------------------------------------

SAMPLE = REPO / "samples" / "hello" / "azure"


def load_sample_app() -> Any:
    """samples/hello/azure/function_app.py, loaded as the Python worker loads it (a file)."""
    spec = importlib.util.spec_from_file_location("function_app", SAMPLE / "function_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def test_the_sample_app_handles_uploads_and_orders_with_its_settings(
        azurite_env: Any, blob_service: Any, queue_service: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    host_json = json.loads((SAMPLE / "host.json").read_text())
    assert host_json["extensions"]["queues"]["maxDequeueCount"] == QUEUE_TRIGGER_ATTEMPTS
    assert host_json["extensions"]["queues"]["messageEncoding"] == "base64"
    settings = json.loads((SAMPLE / "local.settings.json").read_text())["Values"]
    for name in ("PORTABLE_STORE", "PORTABLE_DLQ"):  # AzureWebJobsStorage: this Azurite
        monkeypatch.setenv(name, settings[name])
    functions = _host.index(load_sample_app())
    assert set(functions) == {"portable_blob", "portable_event_grid", "portable_queue",
                              "purge_idempotency_records"}

    uploads = blob_service.create_container("uploads")
    uploads.upload_blob("photo.jpg", b"\xff\xd8")
    _hosting.BlobHost(uploads, functions["portable_blob"], queue_service).scan()
    orders = queue_service.create_queue("orders")
    for order in ({"order_id": "A-1", "items": [{"price": 2.5}]}, {"order_id": "A-2"}):
        azure.publish(new_event({"id": order["order_id"], "source": "/shop",
                                 "type": "com.example.order.created"}, order), "azqueue://orders")
    _hosting.QueueHost(orders, functions["portable_queue"], queue_service).drain()

    [letter] = [DeadLetter.from_json(line)
                for line in dlq(settings["PORTABLE_DLQ"], "list", "--json").output.splitlines()]
    assert letter.error["message"] == "order 'A-2' has no items"  # a PermanentError: at once
    assert letter.handler == "hello" and letter.attempts == 1
