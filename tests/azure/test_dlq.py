"""The Azure Storage queue sink on Azurite, beyond the shared sink contract: how letters are
stored, queues longer than a peek, the host's poison messages and their redelivery through the
blob trigger's path, and Event Grid's dead-letter blobs, all through ``portable dlq``."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cloudevents.http import CloudEvent

from adapters.azure.dlq import QueueSink
from portable import (
    ConfigurationError,
    DeadLetter,
    PermanentError,
    SinkUnavailable,
    new_event,
    storage,
)
from portable._cli import main
from portable._config import sink_from
from tests.azure import _hosting
from tests.azure.contract_backends import Azurite, unique
from tests.conftest import fixture


def letter(n: int, data: Any = None) -> DeadLetter:
    event = new_event({"id": f"ev-{n}", "source": "/orders", "type": "com.example.order"},
                      {"n": n} if data is None else data)
    return DeadLetter.build(PermanentError(f"failure {n}"), retryable=False, event=event,
                            handler="mod:handle", provider="azure")


class Recorder:
    """A handler for redeliveries: records the events; raises while ``error`` is set."""

    def __init__(self) -> None:
        self.events: list[CloudEvent] = []
        self.error: Exception | None = None

    def __call__(self, event: CloudEvent) -> str:
        self.events.append(event)
        if self.error is not None:
            raise self.error
        return "done"


HANDLER = Recorder()
"""Named by the sinks' ``target=`` and by ``--handler`` (tests.azure.test_dlq:HANDLER)."""


@pytest.fixture
def handler() -> Iterator[Recorder]:
    HANDLER.events.clear()
    HANDLER.error = None
    yield HANDLER


@pytest.fixture
def urls(azurite_env: Azurite) -> dict[str, str]:
    """Fresh names: the sink's queue, the poison queue it reads, a dead-letter container."""
    return {"queue": unique("dlq"), "poison": unique("poison"), "container": unique("eg")}


@pytest.fixture
def sink(urls: dict[str, str]) -> Iterator[QueueSink]:
    opened = sink_from(f"azqueue://{urls['queue']}?create=true&poison={urls['poison']}"
                       f"&deadletter_container={urls['container']}"
                       "&target=tests.azure.test_dlq:HANDLER")
    assert isinstance(opened, QueueSink)
    yield opened
    opened.close()


def dlq(sink: QueueSink, *args: str) -> Result:
    """Run ``portable dlq ...`` on the sink's URL."""
    url = (f"azqueue://{sink.queue}?create=true&poison={sink.poison}&deadletter_container="
           f"{sink.deadletter_container}&target=tests.azure.test_dlq:HANDLER")
    return CliRunner().invoke(main, ["dlq", *args, "--dlq", url])


# -- the sink's own letters ------------------------------------------------------------------


def test_letters_are_base64_json_messages_that_never_expire(sink: QueueSink,
                                                             queue_service: Any) -> None:
    original = letter(1)
    sink.put(original)
    [message] = queue_service.get_queue_client(sink.queue).peek_messages()
    assert DeadLetter.from_json(base64.b64decode(message.content)) == original
    assert message.expires_on.year == 9999  # time_to_live=-1; the service's default is 7 days


def test_a_plain_json_message_put_by_hand_is_read_too(sink: QueueSink,
                                                      queue_service: Any) -> None:
    original = letter(2)
    sink.put(letter(1))  # creates the queue
    queue_service.get_queue_client(sink.queue).send_message(original.to_json())
    assert original in sink.list()


def test_a_queue_longer_than_a_peek_is_listed_whole_and_left_as_it_was(
        sink: QueueSink, queue_service: Any) -> None:
    letters = [letter(n) for n in range(40)]
    for item in letters:
        sink.put(item)
    assert [x.id for x in sink.list()] == [x.id for x in letters]
    assert sink.get(letters[35].id) == letters[35]
    assert sink.delete(letters[20].id) and not sink.delete(letters[20].id)
    assert [x.id for x in sink.list(limit=1000)] == [x.id for x in letters if x != letters[20]]
    # Nothing stays hidden after the scans: the queue shows every message again.
    queue = queue_service.get_queue_client(sink.queue)
    assert len(list(queue.peek_messages(max_messages=32))) == 32
    assert queue.get_queue_properties().approximate_message_count == 39


def test_a_letter_put_again_supersedes_the_one_it_replaces(sink: QueueSink,
                                                           queue_service: Any) -> None:
    first = letter(1)
    again = replace(first, attempts=2, error={**first.error, "message": "failed again"})
    sink.put(first)
    sink.put(again)
    assert sink.list() == [again] and sink.get(first.id) == again
    assert sink.delete(first.id)
    assert sink.list() == []
    assert queue_service.get_queue_client(sink.queue).get_queue_properties(
        ).approximate_message_count == 0


def test_a_long_traceback_is_cut_to_fit_and_a_huge_event_is_refused(sink: QueueSink) -> None:
    long = letter(1)
    long.error["traceback"] = "frame\n" * 20_000
    sink.put(long)
    [stored] = sink.list()
    assert "traceback cut" in stored.error["traceback"]
    assert stored.error["traceback"].startswith("frame\n")
    assert replace(stored, error=long.error) == long
    with pytest.raises(PermanentError, match="too large for this sink"):
        sink.put(letter(2, {"blob": "x" * 60_000}))


def test_urls_are_checked_and_options_are_kept() -> None:
    sink = QueueSink.from_url("azqueue://dead-letters?connection=Other&poison="
                              "&deadletter_container=eg-dead&target=app:main")
    assert (sink.queue, sink.connection, sink.poison, sink.deadletter_container,
            sink.target) == ("dead-letters", "Other", None, "eg-dead", "app:main")
    assert QueueSink.from_url("azqueue://dead").poison == "webjobs-blobtrigger-poison"
    with pytest.raises(ConfigurationError, match="unknown option.*visibility"):
        QueueSink.from_url("azqueue://dead?visibility=5")
    with pytest.raises(ConfigurationError, match="not a valid queue name"):
        QueueSink.from_url("azqueue://Dead_Letters")


def test_a_missing_queue_says_how_to_create_it(azurite_env: Azurite) -> None:
    sink = QueueSink(unique("missing"), poison=None)
    with pytest.raises(ConfigurationError, match="QueueNotFound.*create=true"):
        sink.put(letter(1))


def test_an_unreachable_account_is_sink_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.emulators import free_port

    port = free_port()
    monkeypatch.setenv("AzureWebJobsStorage",
                       Azurite(ports={"blob": port, "queue": port, "table": port}
                               ).connection_string)
    with pytest.raises(SinkUnavailable, match="put"):
        QueueSink("dead").put(letter(1))


# -- the host's poison messages --------------------------------------------------------------


@pytest.fixture
def uploads(blob_service: Any) -> Any:
    container = blob_service.create_container(unique("uploads"))
    container.upload_blob("report.csv", b"a,b\n1,2\n")
    return container


def poison(queue_service: Any, sink: QueueSink, container: Any, blob: str,
           *, base64_encoded: bool = True) -> str:
    """Write the host's poison message for the blob's current version; its letter id."""
    etag = container.get_blob_client(blob).get_blob_properties().etag.strip('"')
    queue = _hosting.existing(queue_service.get_queue_client(sink.poison))
    sent = queue.send_message(_hosting.poison_message(
        container.container_name, blob, etag, "App.Functions.portable_blob",
        base64_encoded=base64_encoded))
    return f"poison-{sent.id}"


def test_the_hosts_poison_messages_are_listed_shown_and_purged(
        sink: QueueSink, queue_service: Any, uploads: Any) -> None:
    uploads.upload_blob("b.csv", b"x")
    first = poison(queue_service, sink, uploads, "report.csv")
    second = poison(queue_service, sink, uploads, "b.csv", base64_encoded=False)
    queue_service.get_queue_client(sink.poison).send_message("not a poison message")
    sink.put(letter(1))
    listed = dlq(sink, "list")
    assert listed.exit_code == 0, listed.output
    assert "4 dead letter(s)" in listed.output and "BlobTriggerPoison" in listed.output
    shown = json.loads(dlq(sink, "show", first).output)
    assert shown["origin"] == {
        "kind": "blobtrigger-poison", "container": uploads.container_name, "blob": "report.csv",
        "etag": shown["origin"]["etag"], "function": "App.Functions.portable_blob",
        "queue": sink.poison, "source": f"blob trigger of {uploads.container_name}/report.csv"}
    assert shown["handler"] == "App.Functions.portable_blob" and shown["attempts"] == 5
    assert sink.get(second) is not None
    assert "UnreadableMessage" in listed.output
    assert "purged 4 dead letter(s)" in dlq(sink, "purge", "--yes").output
    assert sink.list() == []


def test_replay_redelivers_a_poison_blob_through_the_blob_trigger_path(
        sink: QueueSink, queue_service: Any, uploads: Any, handler: Recorder) -> None:
    letter_id = poison(queue_service, sink, uploads, "report.csv")
    replayed = dlq(sink, "replay", letter_id)
    assert replayed.exit_code == 0, replayed.output
    assert f"sent back to blob trigger of {uploads.container_name}/report.csv" in replayed.output
    [event] = handler.events
    obj = storage.object_event(event)
    assert (obj.bucket, obj.key, obj.size) == (uploads.container_name, "report.csv", 8)
    assert sink.list() == []  # the poison message is gone


def test_a_poison_blob_that_fails_again_becomes_an_ordinary_letter_with_its_error(
        sink: QueueSink, queue_service: Any, uploads: Any, handler: Recorder) -> None:
    handler.error = PermanentError("the CSV has no header")
    letter_id = poison(queue_service, sink, uploads, "report.csv")
    assert dlq(sink, "replay", letter_id).exit_code == 0
    [moved] = sink.list()
    assert moved.id != letter_id and moved.error["message"] == "the CSV has no header"
    assert moved.event is not None and moved.event["type"] == "Microsoft.Storage.BlobCreated"


def test_a_poison_blob_stays_while_it_cannot_be_redelivered(
        sink: QueueSink, queue_service: Any, uploads: Any, handler: Recorder) -> None:
    letter_id = poison(queue_service, sink, uploads, "report.csv")
    poisoned = sink.get(letter_id)
    assert poisoned is not None
    assert QueueSink(sink.queue, poison=sink.poison).redeliver(poisoned) is False  # no target
    uploads.delete_blob("report.csv")
    assert sink.redeliver(poisoned) is False  # the blob is gone
    assert handler.events == []
    assert [x.id for x in sink.list()] == [letter_id]


# -- Event Grid dead-letter blobs ------------------------------------------------------------


@pytest.fixture
def eventgrid_dead(blob_service: Any, sink: QueueSink) -> Any:
    """The sink's dead-letter container, holding what Event Grid writes there."""
    container = blob_service.create_container(sink.deadletter_container)
    single = fixture("azure/eventgrid_deadletter_blob_created.json")
    container.upload_blob("topic/sub/2020/08/13/17/a.json", json.dumps(single))
    second = {**single, "id": "second-event", "deadLetterReason": "TimeToLiveExceeded"}
    third = {**single, "id": "third-event"}
    container.upload_blob("topic/sub/2020/08/13/18/b.json", json.dumps([second, third]))
    return container


def test_event_grid_dead_letters_are_listed_with_their_reason(
        sink: QueueSink, eventgrid_dead: Any) -> None:
    letters = {x.event["id"]: x for x in sink.list() if x.event}
    assert set(letters) == {"93902694-901e-008f-6f95-7153a806873c", "second-event",
                            "third-event"}
    first = letters["93902694-901e-008f-6f95-7153a806873c"]
    assert first.error["type"] == "EventGrid.MaxDeliveryAttemptsExceeded"
    assert "last outcome NotFound" in first.error["message"]
    assert (first.attempts, first.first_failure, first.last_failure) == (
        1, "2020-08-13T17:18:14.0265758Z", "2020-08-13T17:18:14.0465788Z")
    assert first.event["type"] == "Microsoft.Storage.BlobCreated"
    assert letters["second-event"].error["retryable"] is True
    assert sink.get(first.id) == first


def test_replaying_event_grid_dead_letters_removes_them_from_their_blobs(
        sink: QueueSink, eventgrid_dead: Any, handler: Recorder) -> None:
    third = next(x for x in sink.list() if x.event and x.event["id"] == "third-event")
    replayed = dlq(sink, "replay", third.id, "--handler", "tests.azure.test_dlq:HANDLER")
    assert replayed.exit_code == 0, replayed.output
    assert [event["id"] for event in handler.events] == ["third-event"]
    [rest] = json.loads(eventgrid_dead.download_blob("topic/sub/2020/08/13/18/b.json").readall())
    assert rest["id"] == "second-event"
    assert "purged 2 dead letter(s)" in dlq(sink, "purge", "--yes").output
    assert list(eventgrid_dead.list_blobs()) == []
