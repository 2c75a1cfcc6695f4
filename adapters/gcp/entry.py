"""The functions functions-framework serves on Google Cloud.

``main = gcp.cloud_function(handle)``: Cloud Run functions / Cloud Functions with an Eventarc
trigger (Cloud Storage, Pub/Sub, any CloudEvent), served with the cloudevent signature
(``functions-framework --target main --signature-type cloudevent``, which is what a deployment
with an event trigger sets). functions-framework finds a function's signature by the
``--target`` name: ``@functions_framework.cloud_event`` registers the decorated function's own
name, so the decorator form ``@gcp.cloud_function`` over ``def main(event)`` needs no flag;
the assignment form ``main = gcp.cloud_function(handle)`` needs ``--signature-type
cloudevent`` (or is served with the default http signature, which works as well, see below).
Attempts: the store counts the deliveries of each event; Eventarc retries nothing by default,
so the first failure is the last (dead-lettered and acknowledged) unless ``max_attempts`` is
given (enable retries on the trigger too). An event to retry raises, so the answer is 500.

``push = gcp.push_handler(handle)``: an HTTP function for Pub/Sub push subscriptions. 200
acknowledges; 500 is a nack and Pub/Sub redelivers. The attempt is the request's
``deliveryAttempt``, which Pub/Sub sends only when the subscription has a dead-letter policy:
pass that policy's ``max_delivery_attempts`` as ``max_attempts`` to dead-letter on the last one
here (without it, retryable failures are left to the policy). Without ``deliveryAttempt`` the
store counts deliveries and nothing is ever the last attempt unless ``max_attempts`` is given.

Both entries read the request themselves (:func:`ingress.read_http`), whichever signature they
are served with, so a payload yields the same CloudEvents either way: binary and structured
CloudEvents, legacy events, push envelopes, Cloud Storage notifications. Bad input (not JSON,
not an envelope, invalid base64, a CloudEvent missing a required attribute) is stored as a dead
letter with its raw bytes and acknowledged with 200: these platforms redeliver anything else,
so a 4xx would loop or drop it. Only if that write fails is the answer 500. Under the
cloudevent signature functions-framework parses first and answers 400 itself when it cannot;
the entries install a functions-framework error handler that treats such requests the same way.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cloudevents.http import CloudEvent

from portable._app import App, Handler
from portable._context import Context
from portable._entry import (
    EVENTARC_ATTEMPTS,
    PUBSUB_ATTEMPTS,
    raise_for_retry,
    run_events,
    summarize,
)
from portable._errors import ConfigurationError, MalformedEventError
from portable._events import lowered_headers, to_json
from portable._pipeline import Pipeline, Result
from portable._tracing import from_headers, with_trace

from .._auth import Refused, log_refusal
from . import ingress
from ._auth import CertsFetcher, GoogleCerts, PushAuth

if TYPE_CHECKING:
    import flask

PROVIDER = "gcp"
CLOUDEVENT_ENDPOINT = "cloudevent"  # functions-framework's endpoint for the cloudevent signature
ENTERED = "portable_entered"  # flask.g flag: the entry was called for this request
EXTENSION = "portable.gcp"  # flask app.extensions key: the entries the app may serve
CORRELATION_HEADERS = ("function-execution-id", "traceparent", "x-cloud-trace-context")
JSON_HEADERS = {"Content-Type": "application/json"}

Response = tuple[str, int, dict[str, str]]
EntryFunction = Callable[[Any], Any]


def cloud_function(handle: App | Handler, **pipeline_options: Any) -> EntryFunction:
    """The function functions-framework serves (cloudevent signature) for ``handle``.

    ``pipeline_options``: as :class:`portable.Pipeline` (store, dlq, retry, key, max_attempts,
    ...). Call it at module level, so the pipeline is built once per instance.
    """
    entry = _Entry(Pipeline(handle, **pipeline_options), EVENTARC_ATTEMPTS)
    return _publish(entry, handle, _caller(), cloudevent=True)


def push_handler(handle: App | Handler, *, audience: str | Sequence[str] | None = None,
                 service_account: str | None = None, certs: CertsFetcher | None = None,
                 **pipeline_options: Any) -> EntryFunction:
    """The HTTP function (flask request -> response) for a Pub/Sub push subscription.

    ``audience``: verify each request's OIDC token (an authenticated push subscription) for
    this audience, and with ``service_account`` that it is that account's; a request that
    fails is answered 401 / 403 and runs nothing. ``certs``: where Google's signing
    certificates come from (key id -> PEM; default: fetched from Google, kept an hour).
    """
    if audience is None and (service_account or certs):
        raise ConfigurationError("service_account= and certs= verify push tokens: pass the "
                                 "subscription's audience= too")
    auth = None if audience is None else PushAuth(audience, service_account,
                                                  certs or GoogleCerts())
    entry = _Entry(Pipeline(handle, **pipeline_options), PUBSUB_ATTEMPTS, auth)
    return _publish(entry, handle, _caller(), cloudevent=False)


@dataclass(frozen=True)
class _Entry:
    pipeline: Pipeline
    max_attempts: int | None
    """The platform's default limit; a configured ``max_attempts`` overrides it."""
    auth: PushAuth | None = None

    def serve(self, arg: Any) -> Any:
        """A flask request (http signature) -> a response; a CloudEvent (cloudevent signature)
        or any payload called by hand -> a summary, raising RedeliveryRequired to be redelivered."""
        import flask

        if flask.has_app_context():
            flask.g.setdefault(ENTERED, True)
        if isinstance(arg, flask.Request):
            return self.respond(arg)
        if isinstance(arg, CloudEvent) and _served_as_cloudevent():
            headers = lowered_headers(flask.request.headers)
            refusal = self.refusal(headers)
            if refusal is not None:
                flask.abort(flask.make_response(refusal))
            results = self.from_request(flask.request, headers)
        else:
            results = self.run(lambda: ingress.read(arg), _raw(arg), Context(PROVIDER, raw=arg))
        raise_for_retry(results)
        return dict(summarize(results))

    def respond(self, request: flask.Request) -> Response:
        if request.method != "POST":
            return _response({"error": "POST a CloudEvent or a Pub/Sub push message"}, 405)
        headers = lowered_headers(request.headers)
        refusal = self.refusal(headers)
        if refusal is not None:
            return refusal
        results = self.from_request(request, headers)
        summary: dict[str, Any] = dict(summarize(results))
        failed = [result for result in results if not result.acked]
        if failed:
            summary["error"] = str(failed[0].error)
        return _response(summary, 500 if failed else 200)

    def refusal(self, headers: dict[str, str]) -> Response | None:
        """The answer to a request (its :func:`lowered_headers`) that fails authentication
        (None: it passes, or no authentication is configured); the body is never read."""
        if self.auth is None:
            return None
        try:
            self.auth.check(headers)
        except Refused as refused:
            log_refusal(refused, PROVIDER, _correlation(headers))
            return _response({"error": refused.reason}, refused.status)
        return None

    def from_request(self, request: flask.Request, headers: dict[str, str]) -> list[Result]:
        body = request.get_data()
        ctx = with_trace(Context(PROVIDER, raw=body, correlation_id=_correlation(headers)),
                         from_headers(headers))
        return self.run(lambda: ingress.read_http(headers, body, request.path), body, ctx)

    def run(self, read: Callable[[], ingress.Item], raw: bytes | str, ctx: Context) -> list[Result]:
        """The delivery's events through the pipeline, or its raw form into the sink."""
        ctx = ctx.evolve(max_attempts=self.max_attempts)
        try:
            item = read()
        except MalformedEventError as exc:
            return [self.pipeline.dead_letter_raw(raw, exc, ctx)]
        return run_events(self.pipeline, item.events, ctx.evolve(attempt=item.attempt))


def _publish(entry: _Entry, handle: App | Handler, caller: str | None, *,
             cloudevent: bool) -> EntryFunction:
    """The entry as a plain function named after the handler (functions-framework serves only
    functions), registered with functions-framework where it is loading the module."""

    def function(arg: Any) -> Any:
        return entry.serve(arg)

    functools.update_wrapper(function, handle, assigned=("__name__", "__qualname__", "__doc__"),
                             updated=())
    import functions_framework

    served: EntryFunction = function
    if cloudevent and hasattr(handle, "__name__"):
        served = functions_framework.cloud_event(function)
    import flask

    register = functions_framework.errorhandler
    if flask.has_app_context() and not isinstance(register, functions_framework.DummyErrorHandler):
        flask.current_app.extensions.setdefault(EXTENSION, []).append((caller, served, entry))
        register(Exception)(_fallback)
    return served


def _fallback(error: Exception) -> Any:
    """functions-framework's error handler: a request it could not read as a CloudEvent (it
    would answer 400) is read by the served entry instead; anything else keeps its answer."""
    import flask
    import functions_framework
    from werkzeug.exceptions import HTTPException

    if isinstance(error, HTTPException) and error.code != 400:
        return error
    entry = _served_entry()
    if entry is None or flask.g.get(ENTERED) or not _served_as_cloudevent():
        if isinstance(error, HTTPException):
            return error
        flask.current_app.log_exception(sys.exc_info())
        crash: Callable[[Exception], Any] = functions_framework.crash_handler
        return crash(error)
    flask.g.setdefault(ENTERED, True)
    return entry.respond(flask.request)


def _served_entry() -> _Entry | None:
    """The entry behind the app's target: the one its module exports under the target name."""
    import flask

    candidates: list[tuple[str | None, EntryFunction, _Entry]] = (
        flask.current_app.extensions.get(EXTENSION, []))
    for module, function, entry in candidates:
        if getattr(sys.modules.get(module or ""), flask.current_app.name, None) is function:
            return entry
    return candidates[-1][2] if candidates else None


def _served_as_cloudevent() -> bool:
    import flask

    return flask.has_request_context() and flask.request.endpoint == CLOUDEVENT_ENDPOINT


def _caller() -> str | None:
    """The module calling cloud_function / push_handler (where the entry will be exported)."""
    return sys._getframe(2).f_globals.get("__name__")


def _correlation(headers: dict[str, str]) -> str | None:
    return next((headers[name] for name in CORRELATION_HEADERS if name in headers), None)


def _raw(payload: Any) -> bytes | str:
    if isinstance(payload, bytes | str):
        return payload
    if isinstance(payload, CloudEvent):
        return to_json(payload)
    return json.dumps(payload, ensure_ascii=False, default=str)


def _response(body: dict[str, Any], status: int) -> Response:
    return json.dumps(body), status, JSON_HEADERS
