"""azure.register: the functions a FunctionApp gets, called the way the Functions host calls
them (indexed with the worker's checks, binding objects built by azure.functions' converters).
Redelivery scenarios run through ``portable.testing.run`` instead (the same triggers, with the
host's redeliveries). The webhook has its own module."""

from __future__ import annotations

import json
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.storage.blob import BlobProperties
from cloudevents.http import CloudEvent

from adapters import azure
from portable import (
    ConfigurationError,
    MemorySink,
    MemoryStore,
    Pipeline,
    RetryableError,
    context,
    storage,
    testing,
)
from portable._deadletter import DeadLetter
from portable._sqlite import SQLiteSink
from tests.azure import _host
from tests.conftest import fixture

PROPERTIES = fixture("azure/blob_trigger_properties.json")
URI = "https://acct.blob.core.windows.net/uploads/report.csv"


class Recorder:
    """A handler that records what it saw and fails while ``failures`` is positive."""

    def __init__(self, failures: int = 0, error: type[Exception] = RetryableError) -> None:
        self.seen: list[tuple[CloudEvent, Any]] = []
        self.failures = failures
        self.error = error

    def __call__(self, event: CloudEvent) -> dict[str, str]:
        ctx = context()
        self.seen.append((event, ctx))
        if self.failures:
            self.failures -= 1
            raise self.error("downstream unavailable")
        return {"handled": event["id"]}

    @property
    def ids(self) -> list[str]:
        return [event["id"] for event, _ in self.seen]


def make_app(handler: Callable[[CloudEvent], Any], **kwargs: Any) -> tuple[
        dict[str, _host.Loaded], Pipeline]:
    app = func.FunctionApp()
    options = {"store": MemoryStore(), "dlq": MemorySink(), "retry": 1, **kwargs}
    pipeline = azure.register(app, handler, **options)
    return _host.index(app), pipeline


def letters(pipeline: Pipeline) -> list[DeadLetter]:
    return pipeline.sink.list()


# -- registration ---------------------------------------------------------------------------


def test_register_adds_each_trigger_with_its_binding() -> None:
    functions, _ = make_app(Recorder(), blob="uploads/{name}", event_grid=True, queue="events",
                            webhook="grid", connection="StorageConn")
    assert set(functions) == {"portable_blob", "portable_event_grid", "portable_queue",
                              "portable_webhook"}
    blob = functions["portable_blob"].trigger
    assert (blob["type"], blob["name"], blob["path"], blob["connection"]) == (
        "blobTrigger", "blob", "uploads/{name}", "StorageConn")
    queue = functions["portable_queue"].trigger
    assert (queue["type"], queue["queueName"], queue["connection"]) == (
        "queueTrigger", "events", "StorageConn")
    assert functions["portable_event_grid"].trigger["type"] == "eventGridTrigger"
    http = functions["portable_webhook"].trigger
    assert (http["type"], http["route"], sorted(http["methods"])) == (
        "httpTrigger", "grid", ["OPTIONS", "POST"])


def test_each_trigger_is_optional_and_prefixes_keep_two_handlers_apart() -> None:
    app = func.FunctionApp()
    azure.register(app, Recorder(), queue="a", store="memory://", dlq="memory://")
    azure.register(app, Recorder(), queue="b", prefix="orders", store="memory://",
                   dlq="memory://")
    assert set(_host.index(app)) == {"portable_queue", "orders_queue"}


def test_register_needs_a_trigger_and_a_valid_prefix() -> None:
    with pytest.raises(ConfigurationError, match="at least one"):
        azure.register(func.FunctionApp(), Recorder(), store="memory://", dlq="memory://")
    with pytest.raises(ConfigurationError, match="prefix"):
        azure.register(func.FunctionApp(), Recorder(), queue="q", prefix="1-bad",
                       store="memory://", dlq="memory://")


def test_register_on_azure_without_store_settings_fails_at_cold_start(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBSITE_INSTANCE_ID", "abc")
    with pytest.raises(ConfigurationError, match="PORTABLE_STORE"):
        azure.register(func.FunctionApp(), Recorder(), queue="q")


# -- blob trigger ----------------------------------------------------------------------------


def test_blob_trigger_hands_the_handler_blob_created_and_the_stream() -> None:
    handler = Recorder()
    contents: list[bytes] = []

    def handle(event: CloudEvent) -> Any:
        contents.append(context().raw.read())
        return handler(event)

    functions, _ = make_app(handle, blob="uploads/{name}")
    stream = _host.input_stream(b"a,b\n1,2\n", name="uploads/report.csv", uri=URI,
                                properties=PROPERTIES)
    assert functions["portable_blob"](stream, invocation_id="inv-blob") is None
    [(event, ctx)] = handler.seen
    assert storage.object_event(event).key == "report.csv"
    assert contents == [b"a,b\n1,2\n"]
    assert (ctx.provider, ctx.correlation_id, ctx.attempt, ctx.max_attempts) == (
        "azure", "inv-blob", 1, 5)


def test_blob_trigger_raises_until_the_fifth_delivery_then_dead_letters() -> None:
    handler = Recorder(failures=10)
    report = testing.run(handler, testing.blob_input_stream("uploads/report.csv", b"x"),
                         via="azure-blob", attempts=10, retry=1)
    *raised, last = report.responses
    assert last is None  # the 5th: dead-lettered, the function returns
    assert len(raised) == 4
    assert all(isinstance(r, RetryableError) and "must be retried" in str(r) for r in raised)
    assert [ctx.attempt for _, ctx in handler.seen] == [1, 2, 3, 4, 5]
    [letter] = report.dead_letters
    assert letter.attempts == 5 and letter.provider == "azure"
    assert letter.event is not None and letter.event["subject"].endswith("/blobs/report.csv")


def test_blob_trigger_redelivery_of_a_done_blob_does_not_run_again() -> None:
    handler, store = Recorder(), MemoryStore()
    stream = testing.blob_input_stream("uploads/report.csv", b"x")
    first = testing.run(handler, stream, via="azure-blob", store=store)
    again = testing.run(handler, stream, via="azure-blob", store=store)  # the host redelivers
    assert len(handler.seen) == 1
    assert first.ran == first.processed == again.duplicates and again.ran == []


def test_blob_trigger_without_etag_is_dead_lettered_with_its_metadata() -> None:
    handler = Recorder()
    functions, pipeline = make_app(handler, blob="uploads/{name}")
    props = {k: v for k, v in PROPERTIES.items() if k != "ETag"}
    functions["portable_blob"](_host.input_stream(b"x", name="uploads/report.csv", uri=URI,
                                                  properties=props))
    assert handler.seen == []
    [letter] = letters(pipeline)
    assert letter.event is None and "no ETag" in letter.error["message"]
    assert json.loads(letter.raw_bytes() or b"")["name"] == "uploads/report.csv"


# -- blob as an SDK-type BlobClient (large blobs) ----------------------------------------------


class FakeBlobClient:
    """Stands in for the binding's BlobClient: the properties a real one returns, no network."""

    url = "https://acct.blob.core.windows.net/videos/big.mp4"
    container_name = "videos"
    blob_name = "big.mp4"

    def get_blob_properties(self) -> BlobProperties:
        return BlobProperties(**{"ETag": '"0x8DBEEF"', "Content-Length": 5 * 2**30,
                                 "x-ms-blob-type": "BlockBlob",
                                 "Last-Modified": datetime(2024, 3, 1, tzinfo=UTC)})


def test_blob_client_registration_binds_the_sdk_type_and_streams_from_context() -> None:
    sdk_blob = pytest.importorskip("azurefunctions.extensions.bindings.blob")
    handler = Recorder()
    functions, _ = make_app(handler, blob_client="videos/{name}")
    function = functions["portable_blob_client"]
    assert function.trigger["path"] == "videos/{name}"
    assert typing.get_type_hints(function.fn)["client"] is sdk_blob.BlobClient
    client = FakeBlobClient()
    function(client)
    [(event, ctx)] = handler.seen
    obj = storage.object_event(event)
    assert (obj.bucket, obj.key, obj.size, obj.etag) == ("videos", "big.mp4", 5 * 2**30, "0x8DBEEF")
    assert ctx.raw is client  # the handler streams: context().raw.download_blob().chunks()


# -- Event Grid trigger ----------------------------------------------------------------------


def test_event_grid_trigger_runs_the_event_once() -> None:
    handler = Recorder()
    functions, _ = make_app(handler, event_grid=True)
    raw = fixture("azure/eventgrid_blob_created.json")[0]
    functions["portable_event_grid"](_host.event_grid_event(raw))
    functions["portable_event_grid"](_host.event_grid_event(raw))  # Event Grid redelivers
    assert handler.ids == [raw["id"]]
    assert handler.seen[0][1].max_attempts == 30


def test_event_grid_trigger_cloudevents_schema_delivery() -> None:
    handler = Recorder()
    functions, _ = make_app(handler, event_grid=True)
    raw = fixture("azure/cloudevents_blob_created_single.json")
    functions["portable_event_grid"](_host.event_grid_event(raw))
    assert handler.ids == [raw["id"]]


def test_event_grid_trigger_never_hands_a_validation_event_to_the_handler() -> None:
    handler = Recorder()
    functions, pipeline = make_app(handler, event_grid=True)
    [validation] = fixture("azure/eventgrid_subscription_validation.json")
    assert functions["portable_event_grid"](_host.event_grid_event(validation)) is None
    assert handler.seen == [] and letters(pipeline) == []


def test_event_grid_trigger_raises_so_event_grid_retries() -> None:
    handler = Recorder(failures=1)
    functions, _ = make_app(handler, event_grid=True)
    raw = fixture("azure/functions_eventgrid_trigger_single_event.json")
    with pytest.raises(RetryableError):
        functions["portable_event_grid"](_host.event_grid_event(raw))
    functions["portable_event_grid"](_host.event_grid_event(raw))
    assert [ctx.attempt for _, ctx in handler.seen] == [1, 2]


def test_event_grid_trigger_honours_a_lower_max_delivery_attempts() -> None:
    handler = Recorder(failures=5)
    functions, pipeline = make_app(handler, event_grid=True, max_attempts=2)
    raw = fixture("azure/functions_eventgrid_trigger_single_event.json")
    with pytest.raises(RetryableError):
        functions["portable_event_grid"](_host.event_grid_event(raw))
    functions["portable_event_grid"](_host.event_grid_event(raw))
    assert len(letters(pipeline)) == 1


# -- queue trigger ---------------------------------------------------------------------------


def test_queue_trigger_attempt_is_the_dequeue_count() -> None:
    handler = Recorder(failures=1)
    message = testing.queue_message(fixture("azure/eventgrid_blob_created_putblob.json"))
    report = testing.run(handler, message, via="azure-queue", attempts=5, retry=1)
    raised, last = report.responses  # raised: the host dequeues it again (dequeue_count 2)
    assert isinstance(raised, RetryableError) and last is None
    assert [ctx.raw.dequeue_count for _, ctx in handler.seen] == [1, 2]
    assert [ctx.attempt for _, ctx in handler.seen] == [1, 2]
    assert handler.seen[0][1].max_attempts == 5
    assert report.dead_letters == []


def test_queue_trigger_dead_letters_on_the_last_dequeue_instead_of_poisoning() -> None:
    handler = Recorder(failures=10)
    report = testing.run(handler, testing.queue_message({"order": 1}, id="m-1"),
                         via="azure-queue", attempts=10, retry=1)
    *raised, last = report.responses
    assert last is None  # dequeue 5 returns: the host writes no poison message
    assert len(raised) == 4 and all(isinstance(r, RetryableError) for r in raised)
    assert [ctx.attempt for _, ctx in handler.seen] == [1, 2, 3, 4, 5]
    [letter] = report.dead_letters
    assert letter.attempts == 5
    assert letter.event is not None and letter.event["id"] == "m-1"
    assert letter.event["type"] == "Microsoft.Storage.QueueMessage"


def test_queue_trigger_plain_message_reaches_the_handler() -> None:
    handler = Recorder()
    functions, _ = make_app(handler, queue="orders")
    functions["portable_queue"](_host.queue_message('{"order": 1}', message_id="m-1"))
    [(event, ctx)] = handler.seen
    assert event["source"] == "/queueServices/default/queues/orders"
    assert event.get_data() == {"order": 1}
    assert isinstance(ctx.raw, func.QueueMessage)


def test_non_json_queue_message_is_dead_lettered_raw_and_acknowledged(tmp_path: Path) -> None:
    handler = Recorder()
    sink_url = f"sqlite:///{tmp_path / 'dead.db'}"
    functions, _ = make_app(handler, queue="events", store=f"sqlite:///{tmp_path / 'ids.db'}",
                            dlq=sink_url)
    functions["portable_queue"](_host.queue_message("not json at all", message_id="m-9"))
    assert handler.seen == []
    [letter] = SQLiteSink.from_url(sink_url).list()
    assert letter.raw_bytes() == b"not json at all"
    assert "queue message 'm-9' is not JSON" in letter.error["message"]


class BrokenSink(MemorySink):
    def put(self, letter: DeadLetter) -> None:
        raise OSError("dead-letter queue unreachable")


def test_bad_queue_message_is_not_acknowledged_when_the_sink_fails() -> None:
    functions, _ = make_app(Recorder(), queue="events", dlq=BrokenSink())
    with pytest.raises(RetryableError, match="unreachable"):
        functions["portable_queue"](_host.queue_message("not json", message_id="m-1"))


def test_queue_message_with_a_batch_keeps_good_events_when_one_is_bad() -> None:
    handler = Recorder()
    functions, pipeline = make_app(handler, queue="events")
    good = fixture("azure/eventgrid_blob_created.json")[0]
    bad = {k: v for k, v in good.items() if k != "eventTime"}
    functions["portable_queue"](_host.queue_message(json.dumps([good, bad])))
    assert handler.ids == [good["id"]]
    [letter] = letters(pipeline)
    assert json.loads(letter.raw_bytes() or b"") == bad
