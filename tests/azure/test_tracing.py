"""The Functions host's trace as the parent: the host starts a W3C trace for every invocation
(``context.trace_context``, what Application Insights correlates); a handler's span is its
child when the event carries no ``traceparent``, and the event's own trace wins when it does."""

from __future__ import annotations

from typing import Any

import azure.functions as func
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adapters import azure
from adapters.azure.dev import InvocationContext
from portable import MemorySink, MemoryStore
from tests.azure._host import event_grid_event, index, queue_message
from tests.otel import handler_spans, spans

__all__ = ["spans"]

HOST_TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
EVENT_TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class HostTrace:
    """The worker's trace context object, as a function reads it."""

    trace_parent = HOST_TRACE
    trace_state = "az=1"
    attributes: dict[str, str] = {}


class TracedInvocation(InvocationContext):
    @property
    def trace_context(self) -> Any:
        return HostTrace()


def call(function_name: str, payload: Any) -> None:
    app = func.FunctionApp()
    azure.register(app, lambda event: None, event_grid=True, queue="orders",
                   store=MemoryStore(), dlq=MemorySink(), retry=1)
    loaded = index(app)[function_name]
    loaded.fn(**{loaded.trigger["name"]: payload,
                 "context": TracedInvocation(function_name, "inv-1")})


def parent(span: Any) -> str:
    return f"00-{span.parent.trace_id:032x}-{span.parent.span_id:016x}-01"


def test_a_queue_message_runs_as_a_child_of_the_hosts_trace(
        spans: InMemorySpanExporter) -> None:
    call("portable_queue", queue_message('{"order": 1}'))
    [span] = handler_spans(spans)
    assert parent(span) == HOST_TRACE
    assert span.parent.trace_state.get("az") == "1"


@pytest.mark.parametrize(("extension", "expected"), [({}, HOST_TRACE),
                                                     ({"traceparent": EVENT_TRACE}, EVENT_TRACE)])
def test_an_event_grid_event_keeps_its_own_trace_and_else_takes_the_hosts(
        spans: InMemorySpanExporter, extension: dict[str, str], expected: str) -> None:
    event = {"specversion": "1.0", "id": "e-1", "source": "/orders", "type": "order.placed",
             "time": "2024-05-01T10:00:00Z", "data": {"order": 1}, **extension}
    call("portable_event_grid", event_grid_event(event))
    [span] = handler_spans(spans)
    assert parent(span) == expected
