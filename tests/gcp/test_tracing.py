"""A push request's Cloud Trace header is the parent of the handler's span when the event
carries no traceparent of its own."""

from __future__ import annotations

import flask
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from werkzeug.test import EnvironBuilder

from adapters.gcp import push_handler
from portable import MemorySink, testing
from tests.otel import handler_spans, spans

__all__ = ["spans"]


def test_the_cloud_trace_header_is_the_parent_of_the_handler_span(
        spans: InMemorySpanExporter) -> None:
    entry = push_handler(lambda event: None, store="memory://", dlq=MemorySink())
    request = flask.Request(EnvironBuilder(
        method="POST", json=testing.pubsub_push(b"hi"),
        headers={"X-Cloud-Trace-Context": "105445aa7843bc8bf206b12000100000/1;o=1"},
    ).get_environ())
    assert entry(request)[1] == 200
    [span] = handler_spans(spans)
    assert span.parent is not None
    assert (f"{span.parent.trace_id:032x}", span.parent.span_id) == (
        "105445aa7843bc8bf206b12000100000", 1)
