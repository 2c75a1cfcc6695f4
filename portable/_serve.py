"""``portable serve``: a handler behind the real functions-framework server.

The served function uses functions-framework's HTTP signature so that this module, not the
framework, decides what bad input gets: a 4xx naming the problem (nothing redelivers a local
request, so a 4xx loses nothing), a log line, and never the handler. Accepted bodies:

* a CloudEvent in binary mode (``ce-*`` headers) or structured mode
  (``application/cloudevents+json``), or a batch (``application/cloudevents-batch+json``);
* a raw provider payload that an installed adapter recognises (S3/SQS/SNS/EventBridge, Event
  Grid, Pub/Sub push, GCS), converted to CloudEvents first.

Answers: 200 when every event is done (processed, duplicate, skipped or dead-lettered), 503
when one must be retried, 400/413/415 for bad input, each with a JSON body.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from cloudevents.http import CloudEvent

from . import _events
from ._app import App, Handler
from ._context import Context
from ._entry import LOCAL_ATTEMPTS, run_events
from ._errors import ConfigurationError, MalformedEventError
from ._logging import configure, log
from ._pipeline import Pipeline, Result

TARGET_ENV = "PORTABLE_TARGET"
MAX_BODY_ENV = "PORTABLE_MAX_BODY"
DEFAULT_MAX_BODY = 10 * 1024 * 1024
ENTRY_NAME = "portable_entry"

# Raw payload detectors, tried in order, reached lazily by name (portable imports no adapter).
DETECTORS = ("adapters.aws.ingress", "adapters.azure.ingress", "adapters.gcp.ingress")


class RequestTooLarge(MalformedEventError):
    """The body is over the configured size limit."""


def load_target(spec: str) -> App | Handler:
    """``package.module:attribute`` -> the handler or App it names."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigurationError(
            f"handler {spec!r} must look like MODULE:HANDLER, e.g. samples.hello:handle"
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"cannot import {module_name!r} for handler {spec!r}: {exc}"
        ) from exc
    target = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigurationError(f"{module_name!r} has no attribute {attribute!r}") from None
    if not callable(target):
        raise ConfigurationError(f"{spec!r} is not callable")
    return target


def events_from_http(headers: Mapping[str, str], body: bytes) -> list[CloudEvent]:
    """An HTTP request (headers named in lower case: :func:`portable._events.lowered_headers`)
    -> CloudEvents, or MalformedEventError naming the problem."""
    content_type = headers.get("content-type", "") or ""
    media = content_type.split(";", 1)[0].strip().lower()
    if "ce-specversion" in headers or "ce-id" in headers:
        return [_events.from_binary(_events.http_attributes(headers), body, content_type or None)]
    if media == "application/cloudevents+json":
        return [_events.from_json(body)]
    if media == "application/cloudevents-batch+json":
        items = _parse_json(body)
        if not isinstance(items, list):
            raise MalformedEventError("a CloudEvents batch must be a JSON array")
        return [_events.from_structured(item) for item in items]
    payload = _parse_json(body)
    if _events.is_structured(payload):
        return [_events.from_structured(payload)]
    return _detect(payload)


def _detect(payload: Any) -> list[CloudEvent]:
    """The first adapter whose ingress converts the payload wins; the payload shapes of the
    three providers do not overlap."""
    refusals = []
    for module_name in DETECTORS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        try:
            events: list[CloudEvent] = module.to_cloudevents(payload)
        except MalformedEventError as exc:
            refusals.append(f"{module_name.split('.')[1]}: {exc}")
            continue
        return events
    detail = f" ({'; '.join(refusals)})" if refusals else ""
    raise MalformedEventError(
        "request is not a CloudEvent (no ce-* headers, not application/cloudevents+json) "
        f"and no adapter recognises the payload{detail}"
    )


def _parse_json(body: bytes) -> Any:
    if not body:
        raise MalformedEventError("empty request body: expected a CloudEvent")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise MalformedEventError(f"request body is not valid JSON: {exc}") from None


class Server:
    """The served function: HTTP request in, pipeline results out."""

    def __init__(
        self, target: App | Handler, max_body: int = DEFAULT_MAX_BODY, **options: Any
    ) -> None:
        options.setdefault("max_attempts", LOCAL_ATTEMPTS)
        self.pipeline = Pipeline(target, **options)
        self.max_body = max_body

    def handle(
        self,
        method: str,
        headers: Mapping[str, str],
        read_body: Callable[[int], bytes],
    ) -> tuple[int, dict[str, Any]]:
        """Returns (status, JSON body). ``read_body(limit)`` reads at most ``limit`` bytes."""
        if method != "POST":
            return 405, {"error": f"method {method} not allowed: POST a CloudEvent"}
        headers = _events.lowered_headers(headers)
        ctx = Context(provider="local", correlation_id=headers.get("x-request-id"))
        try:
            length = headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body:
                raise RequestTooLarge(
                    f"request body of {length} bytes is over the "
                    f"{self.max_body}-byte limit ({MAX_BODY_ENV})"
                )
            body = read_body(self.max_body + 1)
            if len(body) > self.max_body:
                raise RequestTooLarge(
                    f"request body is over the {self.max_body}-byte limit ({MAX_BODY_ENV})"
                )
            events = events_from_http(headers, body)
        except MalformedEventError as exc:
            status = 413 if isinstance(exc, RequestTooLarge) else 400
            log(
                logging.WARNING,
                "bad request refused",
                provider="local",
                correlation_id=ctx.correlation_id,
                error=str(exc),
                error_type=type(exc).__name__,
            )
            return status, {"error": str(exc)}
        results = run_events(self.pipeline, events, ctx)
        status = 200 if all(r.acked for r in results) else 503
        return status, {"results": [_describe(r) for r in results]}


def _describe(result: Result) -> dict[str, Any]:
    out: dict[str, Any] = {"id": result.event_id, "outcome": result.outcome.value,
                           "attempt": result.attempt}
    if result.value is not None:
        out["result"] = result.value
    if result.error is not None:
        out["error"] = f"{type(result.error).__name__}: {result.error}"
    return out


def flask_view(server: Server) -> Callable[[Any], Any]:
    """Adapt a Server to functions-framework's HTTP signature (a Flask request)."""
    import flask

    def portable_entry(request: Any) -> Any:
        status, body = server.handle(
            request.method, request.headers, lambda limit: request.stream.read(limit)
        )
        return flask.Response(json.dumps(body), status=status, mimetype="application/json")

    return portable_entry


def view_from_env() -> Callable[[Any], Any]:
    """Build the served function from PORTABLE_TARGET (set by ``portable serve``)."""
    configure()
    spec = os.environ.get(TARGET_ENV)
    if not spec:
        raise ConfigurationError(f"{TARGET_ENV} is not set: run `portable serve MODULE:HANDLER`")
    max_body = int(os.environ.get(MAX_BODY_ENV, DEFAULT_MAX_BODY))
    return flask_view(Server(load_target(spec), max_body=max_body))


def serve_command(host: str, port: int) -> list[str]:
    """The functions-framework command line that serves ``target``."""
    source = os.path.join(os.path.dirname(__file__), "_served.py")
    return [
        sys.executable,
        "-m",
        "functions_framework",
        "--source",
        source,
        "--target",
        ENTRY_NAME,
        "--signature-type",
        "http",
        "--host",
        host,
        "--port",
        str(port),
    ]


def serve(target: str, host: str, port: int, max_body: int) -> None:
    """Replace this process with functions-framework serving ``target``."""
    load_target(target)  # fail here, with a clear message, rather than inside the server
    os.environ[TARGET_ENV] = target
    os.environ[MAX_BODY_ENV] = str(max_body)
    command = serve_command(host, port)
    os.execv(command[0], command)
