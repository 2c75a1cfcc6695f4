"""Trace propagation: one trace follows an event across functions and clouds.

The event carries its trace in the CloudEvents distributed-tracing extension (``traceparent``,
``tracestate``, W3C Trace Context). Where it does not, the platform's own trace is the parent,
bridged to W3C form:

=========================  ===============================================================
AWS X-Ray                  ``Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>``
                           (``_X_AMZN_TRACE_ID`` in Lambda, SQS ``AWSTraceHeader``,
                           ``X-Amzn-Trace-Id`` over HTTP): the trace id is the 32 hex digits
Cloud Trace                ``X-Cloud-Trace-Context: <32 hex>/<decimal span id>;o=<0|1>``
Azure (App Insights),      ``traceparent`` as carried: Event Grid keeps the extension, HTTP
any W3C carrier            requests send the header
=========================  ===============================================================

The pipeline runs each handler inside :func:`handling`: with the OpenTelemetry API installed
the handler's span is a child of the event's trace (no SDK configured: a no-op span that still
carries the trace); without it nothing is imported and the trace is only passed through.
Egress stamps the events a handler publishes with :func:`current` (:func:`stamped`), so they
join the same trace.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from cloudevents.http import CloudEvent

from ._context import Context
from ._events import lowered_headers, new_event

if TYPE_CHECKING:
    from types import ModuleType

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
EXTRA = "trace"
"""The key of the platform's trace (a :class:`Trace`) in ``Context.extras``."""
TRACER = "portable-functions"

# Patterns, compiled on first use (``re`` keeps them): compiling at import cost a cold start
# more than every later match together.
_TRACEPARENT = r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$"
_XRAY_ROOT = r"^1-([0-9a-f]{8})-([0-9a-f]{24})$"
_CLOUD_TRACE = r"^([0-9a-fA-F]{32})(?:/(\d{1,20}))?(?:;o=([01]))?$"
_INVALID_TRACE = "0" * 32
_INVALID_SPAN = "0" * 16
SAMPLED = 0x01


class Trace(NamedTuple):
    """A W3C trace context: ``traceparent`` and, optionally, ``tracestate``."""

    traceparent: str
    tracestate: str | None = None

    @property
    def trace_id(self) -> str:
        return self.traceparent[3:35]

    @property
    def span_id(self) -> str:
        return self.traceparent[36:52]

    @property
    def sampled(self) -> bool:
        return bool(int(self.traceparent[53:55], 16) & SAMPLED)


def parse(traceparent: object, tracestate: object = None) -> Trace | None:
    """A valid ``traceparent`` (lower-case hex, non-zero ids, version not ``ff``) -> Trace."""
    if not isinstance(traceparent, str):
        return None
    found = re.match(_TRACEPARENT, traceparent.strip())
    if (found is None or found.group(1) == "ff" or found.group(2) == _INVALID_TRACE
            or found.group(3) == _INVALID_SPAN or (found.group(1) == "00" and found.group(5))):
        return None
    state = tracestate.strip() if isinstance(tracestate, str) and tracestate.strip() else None
    return Trace(found.group(0)[:55], state)


def _traceparent(trace_id: str, span_id: str, sampled: bool) -> Trace | None:
    return parse(f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}")


# -- bridges ----------------------------------------------------------------------------------

def from_xray(header: object) -> Trace | None:
    """An X-Ray trace header -> W3C; None without a valid Root and Parent."""
    if not isinstance(header, str):
        return None
    fields = dict(part.strip().partition("=")[::2] for part in header.split(";") if part)
    root = re.match(_XRAY_ROOT, fields.get("Root", "").lower())
    parent = fields.get("Parent", "").lower()
    if root is None or not re.fullmatch(r"[0-9a-f]{16}", parent):
        return None
    return _traceparent(root.group(1) + root.group(2), parent, fields.get("Sampled") == "1")


def to_xray(trace: Trace) -> str:
    """W3C -> the X-Ray trace header (``Root=1-...;Parent=...;Sampled=...``)."""
    trace_id = trace.trace_id
    return (f"Root=1-{trace_id[:8]}-{trace_id[8:]};Parent={trace.span_id};"
            f"Sampled={int(trace.sampled)}")


def from_cloud_trace(header: object) -> Trace | None:
    """``X-Cloud-Trace-Context`` -> W3C; None without a valid trace and span id."""
    found = re.match(_CLOUD_TRACE, header.strip()) if isinstance(header, str) else None
    if found is None or not found.group(2) or not 0 < int(found.group(2)) < 2 ** 64:
        return None
    return _traceparent(found.group(1).lower(), f"{int(found.group(2)):016x}",
                        found.group(3) == "1")


def to_cloud_trace(trace: Trace) -> str:
    """W3C -> ``X-Cloud-Trace-Context`` (the span id in decimal)."""
    return f"{trace.trace_id}/{int(trace.span_id, 16)};o={int(trace.sampled)}"


def _w3c(header: object) -> Trace | None:
    return parse(header)


HEADER_BRIDGES: tuple[tuple[str, Callable[[object], Trace | None]], ...] = (
    (TRACEPARENT, _w3c),
    ("x-cloud-trace-context", from_cloud_trace),
    ("x-amzn-trace-id", from_xray),
)
"""HTTP headers that carry a trace, in order of preference."""


def from_headers(headers: Mapping[str, str]) -> Trace | None:
    """The trace an HTTP request carries (W3C, Cloud Trace or X-Ray headers)."""
    lowered = lowered_headers(headers)
    for name, bridge in HEADER_BRIDGES:
        trace = bridge(lowered.get(name))
        if trace is not None:
            state = lowered.get(TRACESTATE) if name == TRACEPARENT else None
            return trace._replace(tracestate=state.strip() or None) if state else trace
    return None


def of_event(event: CloudEvent) -> Trace | None:
    """The trace in the event's distributed-tracing extension."""
    return parse(event.get(TRACEPARENT), event.get(TRACESTATE))


def with_trace(ctx: Context, trace: Trace | None) -> Context:
    """``ctx`` carrying the platform's trace (the parent of events that carry none)."""
    return ctx if trace is None else ctx.evolve(extras={**ctx.extras, EXTRA: trace})


# -- spans and the current trace --------------------------------------------------------------

_incoming: contextvars.ContextVar[Trace | None] = contextvars.ContextVar(
    "portable_trace", default=None)


@functools.cache
def _otel() -> ModuleType | None:
    """``opentelemetry.trace`` when the API is installed (imported on first use only)."""
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    return trace


@contextlib.contextmanager
def handling(event: CloudEvent, ctx: Context, handler: str) -> Iterator[None]:
    """Run a handler within the event's trace: its span (OpenTelemetry) is a child of the
    event's ``traceparent``, else of the platform's trace, else of the current span."""
    trace = of_event(event) or ctx.extras.get(EXTRA)
    token = _incoming.set(trace)
    try:
        otel = _otel()
        if otel is None or not _configured(otel):
            yield
            return
        with otel.get_tracer(TRACER).start_as_current_span(
                f"process {handler}", context=_otel_context(trace),
                kind=otel.SpanKind.CONSUMER, attributes=_span_attributes(event, ctx)):
            yield
    finally:
        _incoming.reset(token)


def _configured(otel: ModuleType) -> bool:
    """Whether an OpenTelemetry SDK is set up: without one every span is a no-op, and making
    it would cost each event ~15 us for nothing (the trace still passes through)."""
    provider = otel.get_tracer_provider()
    return not isinstance(provider, otel.ProxyTracerProvider | otel.NoOpTracerProvider)


def current() -> Trace | None:
    """The trace of the code running now: the active OpenTelemetry span when there is a valid
    one, else the trace of the event being handled."""
    otel = _otel()
    if otel is not None:
        span = otel.get_current_span().get_span_context()
        if span.is_valid:
            state = span.trace_state.to_header() if span.trace_state else ""
            found = _traceparent(f"{span.trace_id:032x}", f"{span.span_id:016x}",
                                 bool(span.trace_flags & SAMPLED))
            if found is not None:
                return found._replace(tracestate=state or None)
    return _incoming.get()


def stamped(event: CloudEvent) -> CloudEvent:
    """``event`` carrying the current trace, unless it carries a trace of its own."""
    if event.get(TRACEPARENT) is not None:
        return event
    trace = current()
    if trace is None:
        return event
    return new_event({**event.get_attributes(), TRACEPARENT: trace.traceparent,
                      TRACESTATE: trace.tracestate}, event.get_data())


def _otel_context(trace: Trace | None) -> Any:
    if trace is None:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier = {TRACEPARENT: trace.traceparent}
    if trace.tracestate:
        carrier[TRACESTATE] = trace.tracestate
    return TraceContextTextMapPropagator().extract(carrier)


def _span_attributes(event: CloudEvent, ctx: Context) -> dict[str, str | int]:
    """OpenTelemetry's CloudEvents and FaaS semantic conventions."""
    attributes: dict[str, Any] = {
        "cloudevents.event_id": event.get("id"),
        "cloudevents.event_source": event.get("source"),
        "cloudevents.event_type": event.get("type"),
        "cloudevents.event_subject": event.get("subject"),
        "cloudevents.event_spec_version": event.get("specversion"),
        "cloud.provider": ctx.provider,
        "faas.invocation_id": ctx.correlation_id,
    }
    return {key: value for key, value in attributes.items() if isinstance(value, str | int)}
