"""The v2 programming-model functions ``register`` adds to a FunctionApp.

The worker checks each function the way it loads it: parameter names must equal the binding
names, and ``typing.get_type_hints`` must give types its converters accept. So the annotations
here are real classes (no ``from __future__ import annotations``: the SDK-type BlobClient is
imported late, where a string annotation could not be resolved), and every function also takes
``context`` (the host's invocation context: the correlation id and the trace).
"""

from collections.abc import Callable
from typing import Any

import azure.functions as func

from portable._errors import ConfigurationError
from portable._tracing import Trace, parse

from . import _webhook
from .entry import Triggers

BLOB_CLIENT_PACKAGE = "azurefunctions-extensions-bindings-blob"


def _blob(app: Any, triggers: Triggers, path: str, connection: str, name: str) -> None:
    def blob_trigger(blob: func.InputStream, context: func.Context) -> None:
        triggers.blob(blob, *_invocation(context))

    _add(app, name, app.blob_trigger(arg_name="blob", path=path, connection=connection),
         blob_trigger)


def _blob_client(app: Any, triggers: Triggers, path: str, connection: str, name: str) -> None:
    try:
        from azurefunctions.extensions.bindings import blob as sdk_blob
    except ImportError as exc:
        raise ConfigurationError(
            f"blob_client= binds the blob as an SDK BlobClient, which needs "
            f"{BLOB_CLIENT_PACKAGE}: pip install {BLOB_CLIENT_PACKAGE} (and add it to "
            "requirements.txt); or use blob= (InputStream, the whole blob in memory)") from exc

    def blob_client_trigger(client: sdk_blob.BlobClient, context: func.Context) -> None:
        triggers.blob_client(client, *_invocation(context))

    _add(app, name, app.blob_trigger(arg_name="client", path=path, connection=connection),
         blob_client_trigger)


def _event_grid(app: Any, triggers: Triggers, setting: object, connection: str,
                name: str) -> None:
    def event_grid_trigger(event: func.EventGridEvent, context: func.Context) -> None:
        triggers.event_grid(event, *_invocation(context))

    _add(app, name, app.event_grid_trigger(arg_name="event"), event_grid_trigger)


def _queue(app: Any, triggers: Triggers, queue: str, connection: str, name: str) -> None:
    def queue_trigger(msg: func.QueueMessage, context: func.Context) -> None:
        triggers.queue_message(msg, *_invocation(context))

    _add(app, name, app.queue_trigger(arg_name="msg", queue_name=queue, connection=connection),
         queue_trigger)


def _webhook_route(app: Any, triggers: Triggers, route: str, connection: str,
                   name: str) -> None:
    def webhook(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
        answer = triggers.webhook(req.method, req.headers, req.get_body(), req,
                                  *_invocation(context))
        return func.HttpResponse(
            _webhook.encode(answer), status_code=answer.status, headers=answer.headers,
            mimetype="application/json" if answer.body is not None else "text/plain")

    _add(app, name, app.route(route=route, methods=["POST", "OPTIONS"]), webhook)


def _add(app: Any, name: str, trigger: Callable[[Any], Any], fn: Callable[..., Any]) -> None:
    app.function_name(name=name)(trigger(fn))


def _invocation(context: func.Context) -> tuple[str | None, Trace | None]:
    """The host's invocation id (the correlation id) and its trace: the host starts each
    invocation's W3C trace (Application Insights), the parent of events that carry none."""
    host_trace = getattr(context, "trace_context", None)
    return getattr(context, "invocation_id", None), parse(
        getattr(host_trace, "trace_parent", None), getattr(host_trace, "trace_state", None))


REGISTRARS: dict[str, Callable[[Any, Triggers, Any, str, str], None]] = {
    "blob": _blob,
    "blob_client": _blob_client,
    "event_grid": _event_grid,
    "queue": _queue,
    "webhook": _webhook_route,
}
