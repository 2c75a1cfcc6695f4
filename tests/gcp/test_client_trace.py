"""The trace google-cloud-pubsub's own OpenTelemetry tracing carries (``googclient_traceparent``
and ``googclient_tracestate`` attributes): read on ingress, written on egress, checked against the
client library itself through the Pub/Sub emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cloudevents.http import CloudEvent
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adapters import gcp
from portable import new_event, testing
from tests.gcp.test_egress import receive, topic
from tests.otel import spans

__all__ = ["spans", "topic"]

PUBLISHER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
OWN = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def order(**attributes: Any) -> CloudEvent:
    return new_event({"id": "o-1", "source": "/orders", "type": "order.placed", **attributes},
                     {"order": 1})


def test_a_plain_message_takes_the_publishers_trace() -> None:
    [event] = gcp.to_cloudevents(testing.pubsub_push(
        b"hi", attributes={"googclient_traceparent": PUBLISHER,
                           "googclient_tracestate": "gc=1"}))
    assert (event["traceparent"], event["tracestate"]) == (PUBLISHER, "gc=1")


def test_a_carried_event_keeps_its_own_trace() -> None:
    [event] = gcp.to_cloudevents(testing.pubsub_push(
        event=order(traceparent=OWN), attributes={"googclient_traceparent": PUBLISHER}))
    assert event["traceparent"] == OWN


def test_an_invalid_client_trace_is_ignored() -> None:
    [event] = gcp.to_cloudevents(testing.pubsub_push(
        b"hi", attributes={"googclient_traceparent": "00-not-a-trace"}))
    assert event.get("traceparent") is None


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_egress_writes_the_trace_where_the_client_library_reads_it(mode: str) -> None:
    message = gcp.from_cloudevent(order(traceparent=OWN, tracestate="ro=1"), mode)  # type: ignore[arg-type]
    assert message.attributes["googclient_traceparent"] == OWN
    assert message.attributes["googclient_tracestate"] == "ro=1"


def test_an_untraced_event_gets_no_trace_attributes() -> None:
    assert not any(name.startswith("googclient_")
                   for name in gcp.from_cloudevent(order()).attributes)


@pytest.fixture
def traced_publisher(pubsub_env: str) -> Iterator[Any]:
    """A google-cloud-pubsub publisher with its OpenTelemetry tracing on."""
    from google.cloud import pubsub_v1
    from google.cloud.pubsub_v1.types import PublisherOptions

    publisher = pubsub_v1.PublisherClient(
        publisher_options=PublisherOptions(enable_open_telemetry_tracing=True))
    yield publisher
    publisher.stop()


def test_a_message_the_client_library_published_in_a_span_continues_its_trace(
        topic: tuple[str, str], traced_publisher: Any, spans: InMemorySpanExporter) -> None:
    with trace.get_tracer("test").start_as_current_span("upstream") as span:
        traced_publisher.publish(topic[0], b"hi").result(timeout=30)
    [event] = gcp.to_cloudevents(receive(topic[1]), subscription=topic[1])
    assert event["traceparent"][3:35] == f"{span.get_span_context().trace_id:032x}"


def test_the_trace_attributes_survive_the_emulator(topic: tuple[str, str]) -> None:
    gcp.publish(order(traceparent=OWN), topic[0])
    message = receive(topic[1])
    assert message.attributes["googclient_traceparent"] == OWN
    assert gcp.to_cloudevents(message, subscription=topic[1])[0]["traceparent"] == OWN
