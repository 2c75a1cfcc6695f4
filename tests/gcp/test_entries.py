"""The entries served by a real functions-framework and driven over HTTP with the payload
shapes Eventarc, Pub/Sub push and legacy Cloud Functions send; outcomes read back from the
SQLite store and dead-letter file each server writes."""

from __future__ import annotations

import base64
import json
import sqlite3
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from adapters.gcp import to_cloudevents
from portable import DeadLetter, Pipeline, RetryableError, Sink, new_event, testing
from portable._entry import RedeliveryRequired
from portable._events import from_structured
from portable._sqlite import SQLiteSink
from tests.conftest import fixture
from tests.emulators import free_port, output, start, stop

MODULE = "gcp_functions"
SOURCE = '''
import json
import os

from adapters import gcp
from portable import PermanentError, RetryableError, context, storage


def handle(event):
    """Records what it saw; types ending in .transient / .permanent fail that way."""
    if event["type"].endswith(".transient"):
        raise RetryableError("downstream unavailable")
    if event["type"].endswith(".permanent"):
        raise PermanentError("order rejected")
    seen = {"id": event["id"], "type": event["type"], "source": event["source"],
            "subject": event.get("subject"), "data": event.get_data(),
            "attempt": context().attempt}
    if event["type"].startswith(storage.GCP_PREFIX):
        obj = storage.object_event(event)
        seen["storage"] = [obj.action, obj.bucket, obj.key, obj.replaced]
    with open(os.environ["SEEN_FILE"], "a") as out:
        out.write(json.dumps(seen) + "\\n")
    return "done"


main = gcp.cloud_function(handle, retry=1)
main_retries = gcp.cloud_function(handle, retry=1, max_attempts=3, name="retries")
push = gcp.push_handler(handle, retry=1)
push_capped = gcp.push_handler(handle, retry=1, max_attempts=2)


@gcp.cloud_function
def on_event(event):
    return handle(event)
'''


@dataclass
class Served:
    """One functions-framework process serving one target of SOURCE."""

    url: str
    folder: Path
    handler: str

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.folder / 'store.db'}"

    @property
    def dlq_url(self) -> str:
        return f"sqlite:///{self.folder / 'dead-letters.db'}"

    def post(self, body: Any, headers: dict[str, str] | None = None,
             path: str = "/") -> requests.Response:
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        return requests.post(self.url + path, data=data, timeout=10,
                             headers=headers or {"Content-Type": "application/json"})

    def seen(self, event_id: str) -> list[dict[str, Any]]:
        path = self.folder / "seen.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [entry for entry in map(json.loads, lines) if entry["id"] == event_id]

    def letters(self, marker: str) -> list[DeadLetter]:
        """Dead letters whose event id or raw delivery mentions ``marker``."""
        sink = SQLiteSink(self.dlq_url)
        try:
            return [letter for letter in sink.list(10_000)
                    if marker in ((letter.event or {}).get("id") or "") + (letter.raw or "")]
        finally:
            sink.close()

    def record(self, source: str, event_id: str) -> tuple[str, int] | None:
        """(status, attempts) of the event's claim in the store."""
        event = new_event({"id": event_id, "source": source, "type": "any"})
        key = Pipeline(lambda e: None, name=self.handler, store="memory://",
                       dlq="memory://").key_for(event)
        with sqlite3.connect(self.folder / "store.db") as conn:
            row = conn.execute("SELECT status, attempts FROM records WHERE key = ?",
                               (key,)).fetchone()
        return None if row is None else (row[0], row[1])


@pytest.fixture(scope="module")
def source_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gcp-source") / f"{MODULE}.py"
    path.write_text(textwrap.dedent(SOURCE))
    return path


def serve(source: Path, folder: Path, target: str, signature: str | None,
          handler: str = f"{MODULE}:handle") -> Iterator[Served]:
    port = free_port()
    binary = Path(sys.executable).parent / "functions-framework"
    cmd = [str(binary), "--source", str(source), "--target", target, "--port", str(port),
           "--host", "127.0.0.1"]
    if signature:
        cmd += ["--signature-type", signature]
    served = Served(f"http://127.0.0.1:{port}", folder, handler)
    env = {"PORTABLE_STORE": served.store_url, "PORTABLE_DLQ": served.dlq_url,
           "SEEN_FILE": str(folder / "seen.jsonl")}
    proc = start(cmd, port, env=env, what=f"functions-framework --target {target}")
    try:
        yield served
    finally:
        (folder / "server.log").write_text(output(proc))
        stop(proc)


@pytest.fixture(scope="module")
def eventarc(source_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """cloud_function served as a deployment with an event trigger serves it."""
    yield from serve(source_file, tmp_path_factory.mktemp("eventarc"), "main", "cloudevent")


@pytest.fixture(scope="module")
def decorated(source_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The decorator form, served with no --signature-type."""
    yield from serve(source_file, tmp_path_factory.mktemp("decorated"), "on_event", None,
                     handler=f"{MODULE}:on_event")


@pytest.fixture(scope="module")
def retrying(source_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """cloud_function with max_attempts=3, assignment form with no flag (http signature)."""
    yield from serve(source_file, tmp_path_factory.mktemp("retrying"), "main_retries", None,
                     handler="retries")


@pytest.fixture(scope="module")
def push(source_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve(source_file, tmp_path_factory.mktemp("push"), "push", None)


@pytest.fixture(scope="module")
def capped(source_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve(source_file, tmp_path_factory.mktemp("capped"), "push_capped", None)


def unique() -> str:
    return uuid.uuid4().hex[:12]


def binary(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A structured CloudEvent as Eventarc sends it: binary mode, attributes in ce-* headers."""
    headers = {f"ce-{k}": str(v) for k, v in event.items() if k not in ("data", "datacontenttype")}
    headers["Content-Type"] = event.get("datacontenttype", "application/json")
    return json.dumps(event["data"]).encode(), headers


def order(event_type: str = "com.example.order.created") -> dict[str, Any]:
    return {"specversion": "1.0", "id": unique(), "source": "/orders/service",
            "type": event_type, "datacontenttype": "application/json",
            "data": {"orderId": "order-12345"}}


def push_body(event: dict[str, Any], attempt: int | None = None) -> dict[str, Any]:
    """A Pub/Sub push request carrying ``event`` in binary mode; ``attempt``: the
    ``deliveryAttempt`` of a subscription with a dead-letter policy."""
    return testing.pubsub_push(event=from_structured(event), delivery_attempt=attempt)


# -- cloud_function (Eventarc) ---------------------------------------------------------------

def test_eventarc_storage_event_in_binary_mode_is_handled_once(eventarc: Served) -> None:
    event = {**fixture("gcp/gcs_finalized_cloudevent_structured.json"), "id": unique()}
    body, headers = binary(event)
    first, again = eventarc.post(body, headers), eventarc.post(body, headers)
    assert (first.status_code, again.status_code) == (200, 200)
    [seen] = eventarc.seen(event["id"])
    assert seen["storage"] == ["created", "sample-bucket", "MyFile", False]
    assert seen["attempt"] == 1
    assert eventarc.record(event["source"], event["id"]) == ("COMPLETED", 1)


def test_eventarc_structured_pubsub_event_keeps_googles_data(eventarc: Served) -> None:
    event = {**fixture("gcp/pubsub_message_published_cloudevent.json"), "id": unique()}
    response = eventarc.post(event, {"Content-Type": "application/cloudevents+json"})
    assert response.status_code == 200
    [seen] = eventarc.seen(event["id"])
    assert seen["type"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert seen["data"] == event["data"]


def test_eventarc_pubsub_event_carrying_a_cloudevent_hands_over_that_event(
        eventarc: Served) -> None:
    carried = order()
    published = {"specversion": "1.0", "id": unique(),
                 "type": "google.cloud.pubsub.topic.v1.messagePublished",
                 "source": "//pubsub.googleapis.com/projects/p/topics/orders",
                 "datacontenttype": "application/json", "data": push_body(carried)}
    assert eventarc.post(*binary(published)).status_code == 200
    [seen] = eventarc.seen(carried["id"])
    assert (seen["type"], seen["source"], seen["data"]) == (
        "com.example.order.created", "/orders/service", {"orderId": "order-12345"})


@pytest.mark.parametrize("name, action, subject", [
    ("gcs_finalize_legacy_background.json", "created", "objects/folder/Test.cs"),
    ("gcs_object_change_legacy_not_exists.json", "deleted", "objects/MyFile"),
])
def test_legacy_storage_event_is_converted_by_the_mapping(
        eventarc: Served, retrying: Served, name: str, action: str, subject: str) -> None:
    """The same under both signatures: the entry reads the request itself, so an old
    object.change deletion is a deletion (functions-framework alone would say finalized)."""
    for served in (eventarc, retrying):
        body = fixture(f"gcp/{name}")
        event_id = unique()
        if "context" in body:
            body["context"]["eventId"] = event_id
        else:
            body["eventId"] = event_id
        assert served.post(body).status_code == 200
        [seen] = served.seen(event_id)
        assert (seen["subject"], seen["storage"][0]) == (subject, action)


def test_eventarc_failure_is_dead_lettered_on_the_first_attempt(eventarc: Served) -> None:
    """Eventarc retries nothing by default: the first failure is the last."""
    event = order("com.example.order.transient")
    first, again = eventarc.post(*binary(event)), eventarc.post(*binary(event))
    assert (first.status_code, again.status_code) == (200, 200)
    [letter] = eventarc.letters(event["id"])
    assert (letter.attempts, letter.error["message"], letter.event) == (
        1, "downstream unavailable", event)
    assert eventarc.record(event["source"], event["id"]) == ("DEAD_LETTERED", 1)


def test_configured_attempts_make_the_platform_retry_before_dead_lettering(
        retrying: Served) -> None:
    event = order("com.example.order.transient")
    statuses = [retrying.post(*binary(event)).status_code for _ in range(4)]
    assert statuses == [500, 500, 200, 200]
    [letter] = retrying.letters(event["id"])
    assert letter.attempts == 3
    assert retrying.record(event["source"], event["id"]) == ("DEAD_LETTERED", 3)


def test_permanent_error_is_dead_lettered_at_once(retrying: Served) -> None:
    event = order("com.example.order.permanent")
    assert retrying.post(*binary(event)).status_code == 200
    [letter] = retrying.letters(event["id"])
    assert (letter.attempts, letter.error["retryable"]) == (1, False)


def test_http_signature_answers_with_a_summary(retrying: Served) -> None:
    event = order()
    response = retrying.post(*binary(event))
    assert (response.status_code, response.json()) == (200, {"events": 1, "processed": 1})
    assert requests.get(retrying.url, timeout=10).status_code == 405


def test_decorator_form_is_served_with_the_cloudevent_signature(decorated: Served) -> None:
    event = order()
    response = decorated.post(*binary(event))
    assert (response.status_code, response.text) == (200, "OK")  # functions-framework's answer
    assert len(decorated.seen(event["id"])) == 1


BAD_EVENTARC = {
    "binary CloudEvent without id": (
        b'{"orderId": 1}', {"ce-specversion": "1.0", "ce-source": "/s", "ce-type": "t",
                            "Content-Type": "application/json"},
        "missing required attribute(s): id"),
    "structured CloudEvent without type": (
        b'{"specversion": "1.0", "id": "1", "source": "/s"}',
        {"Content-Type": "application/cloudevents+json"}, "missing required attribute(s): type"),
    "structured body not JSON": (
        b'{"specversion": ', {"Content-Type": "application/cloudevents+json"}, "not JSON"),
    "pubsub data not base64": (
        json.dumps({"message": {"data": "%%%", "messageId": "1"}, "subscription": "s"}).encode(),
        {"ce-specversion": "1.0", "ce-id": "1", "ce-source": "//pubsub.googleapis.com/t",
         "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
         "Content-Type": "application/json"}, "not valid base64"),
    "JSON that is no event": (b'{"hello": "world"}', {"Content-Type": "application/json"},
                              "not recognised"),
}


@pytest.mark.parametrize("name", sorted(BAD_EVENTARC))
def test_bad_input_is_dead_lettered_raw_and_acknowledged(
        eventarc: Served, retrying: Served, name: str) -> None:
    body, headers, message = BAD_EVENTARC[name]
    for served in (eventarc, retrying):
        before = len(served.letters(""))
        response = served.post(body, headers)
        assert response.status_code == 200, response.text
        letters = served.letters("")
        assert len(letters) == before + 1
        assert (letters[-1].raw, letters[-1].event) == (body.decode(), None)
        assert message in letters[-1].error["message"]
        assert letters[-1].handler == served.handler  # the served entry's, not another one's


# -- push_handler (Pub/Sub push) -------------------------------------------------------------

def test_push_message_is_googles_message_published_event_handled_once(push: Served) -> None:
    body = fixture("gcp/pubsub_push_envelope.json")
    body["message"]["messageId"] = body["message"]["message_id"] = message_id = unique()
    assert [push.post(body).status_code for _ in range(2)] == [200, 200]
    [seen] = push.seen(message_id)
    assert seen["type"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert seen["data"] == {"message": body["message"], "subscription": body["subscription"]}


def test_push_message_carrying_a_cloudevent_hands_over_that_event(push: Served) -> None:
    event = order()
    assert push.post(push_body(event)).status_code == 200
    [seen] = push.seen(event["id"])
    assert (seen["type"], seen["data"]) == ("com.example.order.created", {"orderId": "order-12345"})


def test_push_of_a_storage_notification_is_a_storage_event(push: Served) -> None:
    message_id = unique()
    body = testing.gcs_notification("some-bucket", "folder/Test.cs", event_type="OBJECT_DELETE",
                                    overwritten_by="1714557600000009", message_id=message_id)
    assert push.post(body).status_code == 200
    [seen] = push.seen(message_id)
    assert seen["storage"] == ["deleted", "some-bucket", "folder/Test.cs", True]


def test_push_minimal_message_gets_a_content_id_and_is_handled_once(push: Served) -> None:
    text = f"Hello {unique()}"
    body = {"message": {"data": base64.b64encode(text.encode()).decode()}}
    assert [push.post(body).status_code for _ in range(2)] == [200, 200]
    [event] = to_cloudevents(body)
    [seen] = push.seen(event["id"])
    assert seen["data"] == {"message": body["message"]}


def test_push_failure_without_dead_letter_policy_is_nacked_every_time(push: Served) -> None:
    """No deliveryAttempt and no max_attempts: Pub/Sub keeps redelivering; the store counts."""
    event = order("com.example.order.transient")
    body = push_body(event)
    assert [push.post(body).status_code for _ in range(3)] == [500, 500, 500]
    assert push.letters(event["id"]) == []
    assert push.record(event["source"], event["id"]) == ("RELEASED", 3)


def test_push_failure_with_delivery_attempt_is_left_to_the_policy(push: Served) -> None:
    event = order("com.example.order.transient")
    assert push.post(push_body(event, attempt=5)).status_code == 500
    assert push.letters(event["id"]) == []


def test_push_with_delivery_attempt_dead_letters_on_the_configured_last(capped: Served) -> None:
    event = order("com.example.order.transient")
    assert capped.post(push_body(event, attempt=1)).status_code == 500
    assert capped.post(push_body(event, attempt=2)).status_code == 200
    [letter] = capped.letters(event["id"])
    assert letter.attempts == 2


def test_push_without_delivery_attempt_counts_in_the_store(capped: Served) -> None:
    event = order("com.example.order.transient")
    assert [capped.post(push_body(event)).status_code for _ in range(3)] == [500, 200, 200]
    [letter] = capped.letters(event["id"])
    assert letter.attempts == 2


BAD_PUSH = {
    "data not base64": ({"message": {"data": "not base64!", "messageId": "1"},
                         "subscription": "s"}, "not valid base64"),
    "not an envelope": ({"subscription": "s", "messages": []}, "not recognised"),
    "not JSON": ("this is text", "not JSON"),
    "empty body": ("", "no body"),
}


@pytest.mark.parametrize("name", sorted(BAD_PUSH))
def test_bad_push_is_dead_lettered_raw_and_acknowledged(push: Served, name: str) -> None:
    body, message = BAD_PUSH[name]
    raw = body if isinstance(body, str) else json.dumps(body)
    before = len(push.letters(""))
    response = push.post(raw)
    assert (response.status_code, response.json()) == (200, {"events": 0, "dead_lettered": 1})
    letters = push.letters("")
    assert len(letters) == before + 1
    assert (letters[-1].raw, letters[-1].event) == (raw, None)
    assert message in letters[-1].error["message"]


# -- in process: what no server here can show ------------------------------------------------

class BrokenSink(Sink):
    """A dead-letter sink whose writes fail (its backend is down)."""

    def put(self, letter: DeadLetter) -> None:
        raise OSError("sink backend unreachable")

    def list(self, limit: int = 100) -> list[DeadLetter]:
        return []

    def get(self, letter_id: str) -> DeadLetter | None:
        return None

    def delete(self, letter_id: str) -> bool:
        return False


def test_bad_input_is_nacked_when_the_dead_letter_cannot_be_written() -> None:
    """Nothing is lost: Pub/Sub redelivers it until the dead letter can be written."""
    report = testing.run(lambda event: None, {"subscription": "s", "messages": []},
                         via="gcp-push", dlq=BrokenSink(), attempts=2)
    assert report.deliveries == 2 and report.ran == []
    for body, status, _ in report.responses:
        answer = json.loads(body)
        assert (status, answer["retry"]) == (500, 1)
        assert "sink backend unreachable" in answer["error"]


def test_entry_called_by_hand_takes_any_payload_and_raises_to_be_redelivered() -> None:
    def handle(event: Any) -> None:
        if event["type"].endswith(".transient"):
            raise RetryableError("later")

    legacy = testing.run(handle, fixture("gcp/gcs_finalize_legacy_background.json"),
                         via="gcp-cloudevent")
    assert legacy.response == {"events": 1, "processed": 1}
    assert legacy.ran == ["1147091835525187"]
    failing = new_event({"id": "9", "source": "/s", "type": "x.transient"})
    report = testing.run(handle, failing, via="gcp-cloudevent", retry=1, max_attempts=2,
                         attempts=3)
    raised, last = report.responses
    assert isinstance(raised, RedeliveryRequired) and "1 of 1 event" in str(raised)
    assert last == {"events": 1, "dead_lettered": 1}
    assert (report.ran, report.retried, report.dead_lettered) == (["9", "9"], ["9"], ["9"])
