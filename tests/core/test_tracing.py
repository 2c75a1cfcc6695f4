"""Trace propagation: the CloudEvents distributed-tracing extension, the platforms' trace
headers bridged to it, and the handler's span (OpenTelemetry, in-memory SDK) as its child."""

from __future__ import annotations

from typing import Any

import pytest
from cloudevents.http import CloudEvent
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adapters import aws
from adapters.aws._sqs import lambda_record
from portable import MemorySink, MemoryStore, Pipeline, new_event
from portable._context import Context
from portable._tracing import (
    Trace,
    current,
    from_cloud_trace,
    from_headers,
    from_xray,
    of_event,
    parse,
    stamped,
    to_cloud_trace,
    to_xray,
    with_trace,
)
from tests.otel import handler_spans, spans

__all__ = ["spans"]

TRACEPARENT = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
XRAY = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:orders"


def order(**extensions: str) -> CloudEvent:
    return new_event({"id": "o-1", "source": "/shop", "type": "com.example.order.created",
                      "datacontenttype": "application/json", **extensions}, {"orderId": 7})


def test_xray_and_w3c_convert_both_ways() -> None:
    trace = from_xray(XRAY)
    assert trace == Trace(TRACEPARENT)
    assert to_xray(Trace(TRACEPARENT)) == XRAY
    unsampled = from_xray("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;"
                          "Sampled=0;Lineage=a87bd80c:1")
    assert unsampled is not None and unsampled.traceparent.endswith("-00")
    assert to_xray(unsampled).endswith("Sampled=0")


@pytest.mark.parametrize("header", [
    None, "", "Root=1-5759e988-bd862e3fe1be46a994272793",  # no Parent: nothing to be a child of
    "Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
    "Root=1-5759e988-bd862e3f;Parent=53995c3f42cd8ad8",
])
def test_an_incomplete_xray_header_gives_no_trace(header: Any) -> None:
    assert from_xray(header) is None


def test_cloud_trace_and_w3c_convert_both_ways() -> None:
    trace = from_cloud_trace("105445aa7843bc8bf206b12000100000/18446744073709551615;o=1")
    assert trace == Trace("00-105445aa7843bc8bf206b12000100000-ffffffffffffffff-01")
    assert to_cloud_trace(trace) == "105445aa7843bc8bf206b12000100000/18446744073709551615;o=1"
    assert from_cloud_trace("105445aa7843bc8bf206b12000100000/0;o=1") is None
    assert from_cloud_trace("105445aa7843bc8bf206b12000100000") is None


@pytest.mark.parametrize("value", [
    "00-00000000000000000000000000000000-53995c3f42cd8ad8-01",
    "00-5759e988bd862e3fe1be46a994272793-0000000000000000-01",
    "ff-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
    "00-5759E988BD862E3FE1BE46A994272793-53995c3f42cd8ad8-01",
    "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01-extra",
])
def test_invalid_traceparents_are_ignored(value: str) -> None:
    assert parse(value) is None


def test_http_headers_give_the_w3c_trace_first_then_cloud_trace_then_xray() -> None:
    assert from_headers({"Traceparent": TRACEPARENT, "tracestate": "ro=1",
                         "X-Amzn-Trace-Id": XRAY}) == Trace(TRACEPARENT, "ro=1")
    assert from_headers({"X-Amzn-Trace-Id": XRAY}) == Trace(TRACEPARENT)
    assert from_headers({"X-Cloud-Trace-Context": "5759e988bd862e3fe1be46a994272793/1;o=0"}) \
        == Trace("00-5759e988bd862e3fe1be46a994272793-0000000000000001-00")
    assert from_headers({}) is None


def test_a_traceparent_survives_sqs_egress_and_ingress() -> None:
    event = order(traceparent=TRACEPARENT, tracestate="congo=t61rcWkgMzE")
    message = aws.from_cloudevent(event, "sqs")
    record = lambda_record({"MessageId": "m-1", "Body": message["MessageBody"],
                            "MessageAttributes": message["MessageAttributes"],
                            "Attributes": {"ApproximateReceiveCount": "1"}}, QUEUE_ARN)
    [received] = aws.to_cloudevents({"Records": [record]})
    assert received == event
    assert of_event(received) == Trace(TRACEPARENT, "congo=t61rcWkgMzE")


def pipeline(handler: Any) -> Pipeline:
    return Pipeline(handler, store=MemoryStore(), dlq=MemorySink(), retry=1, name="orders")


def test_the_handler_span_is_a_child_of_the_events_traceparent(
        spans: InMemorySpanExporter) -> None:
    published: list[CloudEvent] = []

    def handle(event: CloudEvent) -> None:
        published.append(stamped(new_event({"id": "s-1", "source": "/shop",
                                            "type": "com.example.order.shipped"})))

    pipeline(handle).process(order(traceparent=TRACEPARENT, tracestate="ro=1"), Context("aws"))
    [span] = handler_spans(spans)
    assert span.parent is not None and span.parent.is_remote
    assert f"{span.parent.trace_id:032x}-{span.parent.span_id:016x}" == TRACEPARENT[3:52]
    assert span.name == "process orders"
    assert span.attributes is not None and span.attributes["cloudevents.event_id"] == "o-1"
    # the event published inside the handler carries the handler's span
    [shipped] = published
    assert shipped["traceparent"] == (
        f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}-01")
    assert shipped["tracestate"] == "ro=1"


def test_without_a_traceparent_the_platforms_trace_is_the_parent(
        spans: InMemorySpanExporter) -> None:
    ctx = with_trace(Context("aws"), from_xray(XRAY))
    pipeline(lambda event: None).process(order(), ctx)
    [span] = handler_spans(spans)
    assert span.parent is not None and f"{span.parent.span_id:016x}" == "53995c3f42cd8ad8"
    assert f"{span.context.trace_id:032x}" == "5759e988bd862e3fe1be46a994272793"


def test_a_failing_handler_span_records_the_error(spans: InMemorySpanExporter) -> None:
    def handle(event: CloudEvent) -> None:
        raise ValueError("bad order")

    pipeline(handle).process(order(traceparent=TRACEPARENT))
    [span] = handler_spans(spans)
    assert not span.status.is_ok
    assert [event.name for event in span.events] == ["exception"]


def test_an_event_with_its_own_trace_is_published_unchanged_and_nothing_outside_a_handler(
) -> None:
    event = order(traceparent="00-11111111111111111111111111111111-2222222222222222-01")
    assert stamped(event) is event
    assert current() is None
    assert stamped(order()) == order()


def test_without_opentelemetry_the_trace_is_passed_through(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from portable import _tracing

    monkeypatch.setattr(_tracing, "_otel", lambda: None)
    seen: list[Trace | None] = []
    pipeline(lambda event: seen.append(current())).process(order(traceparent=TRACEPARENT))
    assert seen == [Trace(TRACEPARENT)]
