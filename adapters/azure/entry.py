"""Azure Functions entry (Python v2 programming model) on a ``FunctionApp`` you own::

    import azure.functions as func
    from adapters import azure

    app = func.FunctionApp()
    azure.register(app, handle, blob="uploads/{name}", event_grid=True, queue="events",
                   webhook="events", store="azuretable://idempotency", dlq="azqueue://dead")

Each trigger is optional; one Pipeline (store, dead-letter sink, retry policy: the keyword
options) serves all of them, and ``register`` returns it.

==============  ===================  ======================  ==========================
argument        function             attempt number          platform's limit (default)
==============  ===================  ======================  ==========================
blob            <prefix>_blob        the store's counter     BLOB_TRIGGER_ATTEMPTS (5)
blob_client     <prefix>_blob_client the store's counter     BLOB_TRIGGER_ATTEMPTS (5)
event_grid      <prefix>_event_grid  the store's counter     EVENT_GRID_ATTEMPTS (30)
queue           <prefix>_queue       message dequeue_count   QUEUE_TRIGGER_ATTEMPTS (5)
webhook         <prefix>_webhook     the store's counter     EVENT_GRID_ATTEMPTS (30)
==============  ===================  ======================  ==========================

A trigger with an event that must be retried raises, and the host redelivers; on the
platform's last attempt the pipeline dead-letters the event and the function returns. The
webhook answers in HTTP terms instead (see ``_webhook``). ``portable.context().raw`` is the
host's object: the InputStream, the BlobClient, the EventGridEvent, the QueueMessage or the
HttpRequest.

**Retries of blob and queue triggers are set in host.json, not by retry policies.** The host
dequeues a failed queue message again (for a blob trigger: its internal blob-receipt message)
until the message's dequeue count reaches ``maxDequeueCount``, then moves it to
``<queue>-poison`` / ``webjobs-blobtrigger-poison``::

    {"version": "2.0", "extensions": {"queues": {"maxDequeueCount": 5}}}

The pipeline dead-letters on what it believes is the last attempt, so the two must agree: if
you change ``maxDequeueCount`` (or an Event Grid subscription's ``maxDeliveryAttempts``, default
30), pass the same number as ``max_attempts=``. Only when the dead-letter sink itself fails on
the last attempt does a message reach the poison queue, so nothing is lost.

**Large blobs.** The host hands an ``InputStream`` the whole blob, in memory. ``blob_client=
"container/{name}"`` binds the blob as an SDK ``BlobClient`` instead (the SDK-type binding: add
``azurefunctions-extensions-bindings-blob`` to requirements.txt). The event is built from
``get_blob_properties()``, and the handler streams the content itself::

    for chunk in portable.context().raw.download_blob().chunks(): ...
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from portable._app import App, Handler
from portable._context import Context
from portable._entry import (
    BLOB_TRIGGER_ATTEMPTS,
    EVENT_GRID_ATTEMPTS,
    QUEUE_TRIGGER_ATTEMPTS,
    raise_for_retry,
)
from portable._errors import ConfigurationError
from portable._pipeline import Pipeline
from portable._tracing import Trace, from_headers, with_trace

from .._auth import Refused, log_refusal
from . import _webhook, ingress
from ._auth import WebhookAuth
from ._deliver import deliver

PROVIDER = "azure"
_FUNCTION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")


def register(app: Any, handle: App | Handler, blob: str | None = None, event_grid: bool = False,
             queue: str | None = None, webhook: str | None = None,
             connection: str = "AzureWebJobsStorage", *, blob_client: str | None = None,
             prefix: str = "portable", webhook_auth: WebhookAuth | None = None,
             **pipeline_options: Any) -> Pipeline:
    """Register ``handle`` on ``app`` (an ``azure.functions.FunctionApp`` or Blueprint).

    ``blob`` / ``blob_client``: a blob path (``"container/{name}"``); ``event_grid``: an
    EventGridTrigger; ``queue``: a queue name; ``webhook``: an HTTP route for Event Grid
    push delivery. ``connection``: the app setting of the storage account. ``prefix``: the
    start of the function names (register twice on one app with two prefixes).
    ``webhook_auth``: how the webhook authenticates Event Grid, ``SharedSecret(...)`` or
    ``EntraToken(...)`` (``adapters.azure._auth``); a request that fails is answered 401 /
    403 and runs nothing.
    """
    from . import _functions  # imports azure.functions, which the Functions host has loaded

    wanted = {"blob": blob, "blob_client": blob_client, "event_grid": event_grid,
              "queue": queue, "webhook": webhook}
    if not any(wanted.values()):
        raise ConfigurationError(
            "register() needs at least one of blob=, blob_client=, event_grid=True, queue= "
            "or webhook=")
    if not _FUNCTION_NAME.match(prefix):
        raise ConfigurationError(
            f"prefix {prefix!r} cannot start an Azure function name: use a letter, then "
            "letters, digits or underscores")
    pipeline = Pipeline(handle, **pipeline_options)
    triggers = Triggers(pipeline, queue, webhook_auth)
    for kind, setting in wanted.items():
        if setting:
            _functions.REGISTRARS[kind](app, triggers, setting, connection, f"{prefix}_{kind}")
    return pipeline


class Triggers:
    """What each registered function does with the host's objects (recognised by shape)."""

    def __init__(self, pipeline: Pipeline, queue: str | None = None,
                 webhook_auth: WebhookAuth | None = None) -> None:
        self.pipeline = pipeline
        self.queue = queue
        self.webhook_auth = webhook_auth

    # ``trace``: the Functions host's trace of the invocation (its ``trace_context``), the
    # parent of events that carry no ``traceparent`` of their own.
    def blob(self, stream: Any, invocation_id: str | None, trace: Trace | None = None) -> None:
        self._run(ingress.to_items(stream), self._context(stream, invocation_id,
                                                          BLOB_TRIGGER_ATTEMPTS, trace))

    def blob_client(self, client: Any, invocation_id: str | None,
                    trace: Trace | None = None) -> None:
        items = ingress.blob_client_items(client, client.get_blob_properties())
        self._run(items, self._context(client, invocation_id, BLOB_TRIGGER_ATTEMPTS, trace))

    def event_grid(self, event: Any, invocation_id: str | None,
                   trace: Trace | None = None) -> None:
        self._run(ingress.to_items(event), self._context(event, invocation_id,
                                                         EVENT_GRID_ATTEMPTS, trace))

    def queue_message(self, message: Any, invocation_id: str | None,
                      trace: Trace | None = None) -> None:
        ctx = self._context(message, invocation_id, QUEUE_TRIGGER_ATTEMPTS, trace,
                            attempt=message.dequeue_count)
        self._run(ingress.to_items(message, queue=self.queue), ctx)

    def webhook(self, method: str, headers: Mapping[str, str], body: bytes, request: Any,
                invocation_id: str | None, trace: Trace | None = None) -> _webhook.Answer:
        answer = _webhook.handshake(method, headers, body)
        if self.webhook_auth is not None:
            params = dict(getattr(request, "params", None) or {})
            check = self.webhook_auth.check if answer is None else (
                self.webhook_auth.check_handshake)
            try:
                check(headers, params)
            except Refused as refused:
                log_refusal(refused, PROVIDER, invocation_id)
                return _webhook.Answer(refused.status, {"error": refused.reason})
        if answer is not None:
            return answer
        ctx = self._context(request, invocation_id, EVENT_GRID_ATTEMPTS,
                            from_headers(headers) or trace)
        return _webhook.handle(self.pipeline, headers, body, ctx)

    def _run(self, items: list[ingress.Item], ctx: Context) -> None:
        raise_for_retry(deliver(self.pipeline, items, ctx))

    @staticmethod
    def _context(raw: Any, invocation_id: str | None, max_attempts: int, trace: Trace | None,
                 attempt: int | None = None) -> Context:
        return with_trace(Context(provider=PROVIDER, attempt=attempt, max_attempts=max_attempts,
                                  raw=raw, correlation_id=invocation_id), trace)
