"""The Event Grid webhook route: handshakes, batches, and what Event Grid is told to retry."""

from __future__ import annotations

import json
import time
from typing import Any

import azure.functions as func
from cloudevents.http import CloudEvent

from portable import PermanentError, context, testing
from portable._events import from_structured
from tests.azure import _host
from tests.azure.test_entry import BrokenSink, Recorder, letters, make_app
from tests.conftest import fixture

NOTIFICATION = {"aeg-event-type": "Notification", "Content-Type": "application/json"}


def post(handler: Any, body: Any, headers: dict[str, str] | None = None,
         **options: Any) -> tuple[func.HttpResponse, Any]:
    functions, pipeline = make_app(handler, webhook="events", **options)
    return send(functions, body, headers), pipeline


def send(functions: dict[str, _host.Loaded], body: Any,
         headers: dict[str, str] | None = None) -> func.HttpResponse:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response: func.HttpResponse = functions["portable_webhook"](
        _host.http_request("POST", data, headers or NOTIFICATION))
    return response


def outcomes(response: func.HttpResponse) -> list[str]:
    return [r["outcome"] for r in json.loads(response.get_body())["results"]]


# -- handshakes ------------------------------------------------------------------------------


def test_subscription_validation_handshake_answers_the_code() -> None:
    handler = Recorder()
    response, _ = post(handler, fixture("azure/eventgrid_subscription_validation.json"),
                       {"aeg-event-type": "SubscriptionValidation"})
    assert response.status_code == 200
    assert json.loads(response.get_body()) == fixture(
        "azure/eventgrid_subscription_validation_response.json")
    assert handler.seen == []


def test_cloudevents_abuse_protection_handshake() -> None:
    functions, _ = make_app(Recorder(), webhook="events")
    response = functions["portable_webhook"](_host.http_request(
        "OPTIONS", headers={"WebHook-Request-Origin": "eventgrid.azure.net"}))
    assert response.status_code == 200
    assert response.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"
    assert response.headers["WebHook-Allowed-Rate"] == "*"
    limited = functions["portable_webhook"](_host.http_request(
        "OPTIONS", headers={"webhook-request-origin": "eventgrid.azure.net",
                            "webhook-request-rate": "120"}))
    assert limited.headers["WebHook-Allowed-Rate"] == "120"
    plain = functions["portable_webhook"](_host.http_request("OPTIONS"))
    assert plain.status_code == 200 and "WebHook-Allowed-Origin" not in plain.headers
    assert plain.headers["Allow"] == "POST, OPTIONS"


# -- deliveries ------------------------------------------------------------------------------


def test_event_grid_schema_batch_is_processed_and_acknowledged() -> None:
    handler = Recorder()
    response, _ = post(handler, fixture("azure/eventgrid_blob_created.json"))
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert outcomes(response) == ["processed"]
    assert handler.ids == ["831e1650-001e-001b-66ab-eeb76e069631"]
    ctx = handler.seen[0][1]
    remaining = ctx.remaining()
    assert remaining is not None and 0 < remaining <= 30  # Event Grid waits 30 s for the answer
    assert isinstance(ctx.raw, func.HttpRequest)


def test_cloudevents_schema_single_and_batch() -> None:
    handler = Recorder()
    functions, _ = make_app(handler, webhook="events")
    single = send(functions, fixture("azure/cloudevents_blob_created_single.json"),
                  {"Content-Type": "application/cloudevents+json; charset=utf-8"})
    batch = send(functions, fixture("azure/cloudevents_blob_deleted.json"),
                 {"Content-Type": "application/cloudevents-batch+json; charset=utf-8"})
    assert (single.status_code, batch.status_code) == (200, 200)
    assert handler.ids == ["9aeb0fdf-c01e-0131-0922-9eb54906e209",
                           "4c2359fe-001e-00ba-0e04-58586806d298"]


def test_binary_mode_cloudevent() -> None:
    handler = Recorder()
    response, _ = post(handler, {"order": 7}, {
        "ce-specversion": "1.0", "ce-id": "b-1", "ce-source": "/orders",
        "ce-type": "com.example.order.placed", "Content-Type": "application/json"})
    assert response.status_code == 200
    [(event, _)] = handler.seen
    assert (event["id"], event["type"], event.get_data()) == (
        "b-1", "com.example.order.placed", {"order": 7})


def test_one_bad_event_in_a_batch_is_dead_lettered_and_the_good_ones_run() -> None:
    handler = Recorder()
    good = fixture("azure/eventgrid_blob_created.json")[0]
    other = {**good, "id": "second"}
    bad = {k: v for k, v in good.items() if k != "eventType"}
    response, pipeline = post(handler, [good, bad, other])
    assert response.status_code == 200
    assert outcomes(response) == ["processed", "processed", "dead_lettered"]
    assert handler.ids == [good["id"], "second"]
    [letter] = letters(pipeline)
    assert json.loads(letter.raw_bytes() or b"") == bad
    assert letter.event is None and letter.error["type"].endswith("MalformedEventError")


def test_a_retry_fails_the_batch_and_the_redelivery_does_not_rerun_the_good_events() -> None:
    class FailsOnce(Recorder):
        def __call__(self, event: CloudEvent) -> Any:
            self.failures = 1 if event["id"] == "flaky" and "flaky" not in self.ids else 0
            return super().__call__(event)

    handler = FailsOnce()
    good = fixture("azure/eventgrid_blob_created.json")[0]
    report = testing.run(handler, [good, {**good, "id": "flaky"}], via="azure-webhook",
                         attempts=5, retry=1)
    first, second = report.responses  # 500: Event Grid redelivers the whole batch
    assert (first.status, first.body) == (500, {"results": [
        {"id": good["id"], "outcome": "processed"}, {"id": "flaky", "outcome": "retry"}]})
    assert (second.status, second.body) == (200, {"results": [
        {"id": good["id"], "outcome": "duplicate"}, {"id": "flaky", "outcome": "processed"}]})
    assert handler.ids == [good["id"], "flaky", "flaky"]  # the good event ran once


def test_handler_permanent_error_is_dead_lettered_and_acknowledged() -> None:
    handler = Recorder(failures=1, error=PermanentError)
    response, pipeline = post(handler, fixture("azure/eventgrid_blob_deleted.json"))
    assert response.status_code == 200 and outcomes(response) == ["dead_lettered"]
    [letter] = letters(pipeline)
    assert letter.event is not None and letter.event["type"] == "Microsoft.Storage.BlobDeleted"


def test_body_that_is_not_json_is_dead_lettered_raw_with_200() -> None:
    response, pipeline = post(Recorder(), b"\x00garbage")
    assert response.status_code == 200 and outcomes(response) == ["dead_lettered"]
    [letter] = letters(pipeline)
    assert letter.raw_bytes() == b"\x00garbage"


def test_bad_input_gets_503_when_the_dead_letter_cannot_be_stored() -> None:
    response, _ = post(Recorder(), b"not json", dlq=BrokenSink())
    assert response.status_code == 503


def test_event_held_by_another_worker_gets_429() -> None:
    handler = Recorder()
    functions, pipeline = make_app(handler, webhook="events")
    raw = fixture("azure/eventgrid_blob_created.json")
    event = from_structured({"specversion": "1.0", "id": raw[0]["id"],
                             "source": raw[0]["topic"], "type": raw[0]["eventType"]})
    now = time.time()
    pipeline.store.claim(pipeline.key_for(event), "another-worker", now, now + 300, None)
    response = send(functions, raw)
    assert response.status_code == 429 and handler.seen == []


def test_handler_sees_the_invocation_as_correlation_id() -> None:
    seen: list[str | None] = []
    functions, _ = make_app(lambda event: seen.append(context().correlation_id),
                            webhook="events")
    functions["portable_webhook"](_host.http_request(
        "POST", json.dumps(fixture("azure/eventgrid_blob_created.json")), NOTIFICATION),
        invocation_id="inv-42")
    assert seen == ["inv-42"]
