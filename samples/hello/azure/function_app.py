"""samples.hello on Azure Functions (Python v2 programming model).

The handler is written once (samples/hello); this file only wires it to triggers::

    uploads/{name}   blob trigger     -> Microsoft.Storage.BlobCreated -> on_upload
    Event Grid       event_grid       -> the event's own type (orders, storage events)
    orders           queue trigger    -> the CloudEvents adapters.azure.publish sends there

Settings (local.settings.json locally, app settings on Azure): ``AzureWebJobsStorage`` (the
account of the triggers, the Table store and the dead-letter queue), ``PORTABLE_STORE``
(``azuretable://TABLE``) and ``PORTABLE_DLQ`` (``azqueue://QUEUE``). Without the last two the
app refuses to start on Azure: a local SQLite file there would neither deduplicate across
instances nor keep dead letters.

Retries and poison (host.json): the host delivers a failing blob or queue message again until
its dequeue count reaches ``extensions.queues.maxDequeueCount`` (5 here, the default), then
moves it to ``webjobs-blobtrigger-poison`` (blobs) or ``<queue>-poison`` (messages). The
pipeline dead-letters on that 5th attempt itself, into PORTABLE_DLQ, with the error: a poison
message only appears if the dead-letter queue itself failed then. ``portable dlq list`` shows
both (the sink reads ``webjobs-blobtrigger-poison`` too), and ``portable dlq replay`` sends a
poison blob through ``target=`` (samples.hello:app) again. Change ``maxDequeueCount`` and
``register(..., max_attempts=N)`` together. ``messageEncoding`` is base64, what the egress
writes.

Azure Table has no TTL: ``purge_idempotency_records`` deletes expired records once a day.

Run locally from a folder that holds this file, host.json, requirements.txt and the
``samples`` package (the function app's root): start Azurite, then ``func start``.
"""

import os

import azure.functions as func

from adapters import azure
from samples.hello import app as hello

app = func.FunctionApp()

azure.register(app, hello, blob="uploads/{name}", event_grid=True, queue="orders")


@app.timer_trigger(schedule="0 30 3 * * *", arg_name="timer", run_on_startup=False)
def purge_idempotency_records(timer: func.TimerRequest, context: func.Context) -> None:
    """Azure Table keeps records until deleted; claims never depend on it (expiry is checked
    in each conditional write), so this only keeps the table small."""
    from adapters.azure.store import TableStore

    TableStore.from_url(os.environ["PORTABLE_STORE"]).purge_expired()
