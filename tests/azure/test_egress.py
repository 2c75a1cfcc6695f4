"""Egress: CloudEvents out to Event Grid and Storage queues, and back in through the ingress.

The round trip law, with generated events: published through Azure egress and received the
way the platform delivers it, an event comes back as the same CloudEvent. The queue path runs
against Azurite; the Event Grid path against a local HTTP endpoint that records what
azure-eventgrid's publisher client sends (the topic delivers CloudEvents schema events as is).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from cloudevents.http import CloudEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import azure
from adapters.azure.ingress import queue_items
from portable import (
    ConfigurationError,
    PermanentError,
    RetryableError,
    new_event,
    storage,
    to_structured,
)
from tests.azure import _host
from tests.azure.contract_backends import Azurite, unique

# -- generated CloudEvents -------------------------------------------------------------------

text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)
json_data = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=8,
)
RESERVED = {"id", "source", "type", "specversion", "datacontenttype", "dataschema", "subject",
            "time", "data", "data_base64"}
extension_names = st.from_regex(r"[a-z0-9]{1,20}", fullmatch=True).filter(
    lambda name: name not in RESERVED)
extension_values = text | st.integers(-(2**31), 2**31 - 1) | st.booleans()
# datacontenttype -> the data an event of that type carries
DATA = {
    None: json_data,
    "application/json": json_data,
    "text/plain": st.text(max_size=40),
    "application/octet-stream": st.binary(max_size=40),
}


@st.composite
def cloudevents(draw: st.DrawFn) -> CloudEvent:
    content_type = draw(st.sampled_from(list(DATA)))
    attributes: dict[str, Any] = {
        "id": draw(text), "source": draw(text), "type": draw(text),
        "subject": draw(st.none() | text),
        "time": draw(st.none() | st.datetimes(timezones=st.just(UTC)).map(
            lambda moment: moment.isoformat().replace("+00:00", "Z"))),
        "dataschema": draw(st.none() | st.just("https://example.com/schemas/order.json")),
        "datacontenttype": content_type,
        **draw(st.dictionaries(extension_names, extension_values, max_size=3)),
    }
    return new_event(attributes, draw(DATA[content_type]))


# azure-eventgrid serializes CNCF CloudEvents with cloudevents' deprecated http.to_json.
pytestmark = pytest.mark.filterwarnings("ignore:to_json is deprecated")

ROUND_TRIP = settings(max_examples=30, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])

ORDER = new_event({"id": "o-1", "source": "/orders", "type": "com.example.order.created",
                   "time": "2024-05-01T10:00:00Z", "datacontenttype": "application/json"},
                  {"order": 1, "items": ["żółw"]})

# -- pure egress -----------------------------------------------------------------------------


def test_event_grid_form_is_the_structured_cloudevent() -> None:
    assert azure.from_cloudevent(ORDER) == to_structured(ORDER)
    assert azure.from_cloudevent(ORDER, target="eventgrid")["specversion"] == "1.0"


def test_queue_form_is_the_structured_json_base64_encoded() -> None:
    message = azure.from_cloudevent(ORDER, target="queue")
    assert json.loads(base64.b64decode(message)) == to_structured(ORDER)


def test_binary_data_travels_as_data_base64() -> None:
    event = new_event({"id": "b-1", "source": "/s", "type": "t",
                       "datacontenttype": "application/octet-stream"}, b"\x00\xff")
    assert azure.from_cloudevent(event)["data_base64"] == "AP8="


def test_unknown_target_and_oversized_queue_events_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="eventgrid, queue"):
        azure.from_cloudevent(ORDER, target="servicebus")
    huge = new_event({"id": "h", "source": "/s", "type": "t"}, {"blob": "x" * 60_000})
    with pytest.raises(PermanentError, match="send a reference"):
        azure.from_cloudevent(huge, target="queue")


# -- queues on Azurite -----------------------------------------------------------------------


@pytest.fixture
def queue(azurite_env: Azurite, queue_service: Any) -> Iterator[Any]:
    client = queue_service.get_queue_client(unique("events"))
    client.create_queue()
    yield client
    client.delete_queue()


def receive_as_the_trigger(queue: Any) -> Any:
    """The next message as the queue trigger hands it over: base64-decoded (the host's default
    messageEncoding), with its id, dequeue count and insertion time."""
    [message] = queue.receive_messages(max_messages=1)
    queue.delete_message(message)
    return message, _host.queue_message(
        base64.b64decode(message.content), message_id=message.id,
        dequeue_count=message.dequeue_count, inserted=message.inserted_on.isoformat())


@ROUND_TRIP
@given(event=cloudevents())
def test_round_trip_through_a_storage_queue(queue: Any, event: CloudEvent) -> None:
    message_id = azure.publish(event, f"azqueue://{queue.queue_name}")
    raw, delivered = receive_as_the_trigger(queue)
    assert raw.id == message_id
    assert azure.to_cloudevents(delivered, queue=queue.queue_name) == [event]
    # The same message text read with the SDK (encoding="base64"), as `portable dev` would.
    [item] = queue_items(raw.content, message_id=raw.id, encoding="base64")
    assert item.event == event


def test_a_storage_event_published_to_a_queue_keeps_its_storage_view(queue: Any) -> None:
    created = new_event(
        {"id": "e-1", "source": "/subscriptions/s/storageAccounts/acct",
         "type": "Microsoft.Storage.BlobCreated",
         "subject": "/blobServices/default/containers/uploads/blobs/a.csv",
         "time": "2024-05-01T10:00:00Z"},
        {"url": "https://acct.blob.core.windows.net/uploads/a.csv", "contentLength": 3,
         "eTag": "0x1"})
    azure.publish(created, f"azqueue://{queue.queue_name}")
    _, delivered = receive_as_the_trigger(queue)
    [event] = azure.to_cloudevents(delivered)
    obj = storage.object_event(event)
    assert (obj.action, obj.bucket, obj.key, obj.size) == (storage.CREATED, "uploads", "a.csv", 3)


def test_publishing_to_a_missing_queue_says_how_to_create_it(azurite_env: Azurite) -> None:
    with pytest.raises(ConfigurationError, match="QueueNotFound.*create it"):
        azure.publish(ORDER, f"azqueue://{unique('missing')}")


def test_publishing_where_azure_is_unreachable_is_retryable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.emulators import free_port

    port = free_port()  # nothing listens there
    monkeypatch.setenv("AzureWebJobsStorage", Azurite(ports={
        "blob": port, "queue": port, "table": port}).connection_string)
    with pytest.raises(RetryableError, match="ServiceRequestError|ServiceResponseError"):
        azure.publish(ORDER, "azqueue://events")


# -- Event Grid through azure-eventgrid's publisher client -----------------------------------


class Topic(BaseHTTPRequestHandler):
    """A local Event Grid topic endpoint: records each request, answers ``status``."""

    requests: list[tuple[str, dict[str, str], bytes]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        type(self).requests.append((self.path, dict(self.headers), body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def topic() -> Iterator[tuple[str, type[Topic]]]:
    recorder = type("Recorded", (Topic,), {"requests": [], "status": 200})
    server = HTTPServer(("127.0.0.1", 0), recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/events", recorder
    server.shutdown()
    server.server_close()


@ROUND_TRIP
@given(event=cloudevents())
def test_round_trip_through_event_grid(topic: tuple[str, type[Topic]], event: CloudEvent) -> None:
    endpoint, recorder = topic
    recorder.requests.clear()
    assert azure.publish(event, endpoint, credential="topic-key") == event["id"]
    [(path, headers, body)] = recorder.requests
    assert path.startswith("/api/events")
    assert headers["Content-Type"].startswith("application/cloudevents-batch+json")
    assert headers["aeg-sas-key"] == "topic-key"
    # Event Grid delivers a CloudEvents schema event to the webhook as it was published.
    assert azure.to_cloudevents(body) == [event]


@pytest.mark.parametrize(("status", "error"), [
    (401, ConfigurationError), (503, RetryableError), (400, PermanentError)])
def test_event_grid_refusals_become_portable_errors(
        topic: tuple[str, type[Topic]], status: int, error: type[Exception]) -> None:
    endpoint, recorder = topic
    recorder.status = status
    with pytest.raises(error, match="Event Grid topic"):
        azure.publish(ORDER, endpoint, credential="topic-key")


def test_event_grid_needs_a_credential_and_destinations_need_a_known_scheme() -> None:
    with pytest.raises(ConfigurationError, match="credential="):
        azure.publish(ORDER, "https://topic.westeurope-1.eventgrid.azure.net/api/events")
    with pytest.raises(ConfigurationError, match="azqueue://QUEUE"):
        azure.publish(ORDER, "sqs://queue")
