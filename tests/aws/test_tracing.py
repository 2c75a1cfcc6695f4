"""One trace across AWS hops: X-Ray's headers as the parent when an event has no traceparent,
and an event published inside a handler carrying the handler's trace through SQS (moto) to
the next function, as ``ce-traceparent`` and as the ``AWSTraceHeader`` system attribute (or,
to EventBridge, as the PutEvents entry's ``TraceHeader``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cloudevents.http import CloudEvent
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adapters import aws
from adapters.aws._sqs import lambda_record
from portable import MemorySink, MemoryStore, new_event, testing
from portable._tracing import Trace, from_xray
from tests.otel import handler_spans, spans

__all__ = ["spans"]

XRAY = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def function(handle: Any) -> Any:
    return aws.lambda_handler(handle, store=MemoryStore(), dlq=MemorySink(), retry=1)


def parent(span: Any) -> str:
    return f"{span.parent.trace_id:032x}-{span.parent.span_id:016x}"


def test_an_sqs_messages_xray_header_is_the_parent_of_a_plain_message(
        spans: InMemorySpanExporter) -> None:
    record = testing.sqs_message("hello", trace_header=XRAY)
    assert function(lambda event: None)(testing.sqs_batch(record), testing.lambda_context()) == {
        "batchItemFailures": []}
    [span] = handler_spans(spans)
    assert parent(span) == "5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8"


def test_an_async_invocation_is_a_child_of_lambdas_trace(
        spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", XRAY)
    function(lambda event: None)({"specversion": "1.0", "id": "e-1", "source": "/s",
                                  "type": "t"},
        testing.lambda_context())
    [span] = handler_spans(spans)
    assert parent(span) == "5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8"


def test_an_event_published_in_a_handler_carries_its_trace_through_sqs(
        boto: Any, unique: Any, spans: InMemorySpanExporter) -> None:
    sqs = boto("sqs")
    url = sqs.create_queue(QueueName=unique("traced"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]

    def first(event: CloudEvent) -> None:
        aws.publish(new_event({"id": "next-1", "source": "/shop", "type": "shipped",
                               "datacontenttype": "application/json"}, {"n": 1}), url)

    upstream = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    first_function = function(first)
    first_function(testing.sqs_batch(testing.sqs_message("{}", attributes={
        "ce-specversion": "1.0", "ce-id": "o-1", "ce-source": "/shop", "ce-type": "created",
        "ce-traceparent": upstream})), testing.lambda_context())
    [message] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"],
                                    MessageSystemAttributeNames=["All"])["Messages"]
    seen: list[CloudEvent] = []
    function(seen.append)({"Records": [lambda_record(message, arn)]}, testing.lambda_context())

    upstream_span, downstream_span = handler_spans(spans)
    assert parent(upstream_span) == upstream[3:52]
    hop = f"00-{upstream_span.context.trace_id:032x}-{upstream_span.context.span_id:016x}-01"
    assert seen[0]["traceparent"] == hop
    assert parent(downstream_span) == hop[3:52]  # one trace, two functions
    assert from_xray(message["Attributes"]["AWSTraceHeader"]) == Trace(hop)  # for X-Ray


def test_an_event_put_on_eventbridge_carries_its_trace_as_the_entrys_trace_header(
        boto: Any, unique: Any) -> None:
    from adapters.aws.egress import Destination, _client

    bus = boto("events").create_event_bus(Name=unique("traced"))["EventBusArn"]
    sent: list[bytes] = []
    events = _client("events", Destination.parse(bus).region)  # the client publish uses
    events.meta.events.register("before-send.events.PutEvents",
                                lambda request, **_: sent.append(request.body))
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    aws.publish(new_event({"id": "e-1", "source": "/shop", "type": "shipped",
                           "traceparent": traceparent}, {"n": 1}), bus)
    [entry] = json.loads(sent[-1])["Entries"]
    assert from_xray(entry["TraceHeader"]) == Trace(traceparent)
