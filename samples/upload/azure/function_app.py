"""samples.upload on Azure Functions (Python v2 programming model).

The handler is written once (samples/upload); this file only wires it to a trigger::

    uploads/{name}   blob trigger, bound as an SDK BlobClient   -> describe_upload

The SDK-type binding (azurefunctions-extensions-bindings-blob) hands over a client, not the
blob's content: the handler streams the blob through ``storage.open``, whatever its size (the
``InputStream`` binding, ``blob=``, would read it whole into memory first). The manifest is
written beside the blob, so it triggers the function too; the handler skips it.

For lower latency, subscribe the function to the account's BlobCreated events instead
(``event_grid=True``, and an Event Grid subscription filtered on /containers/uploads/): an
Event Grid event and a blob trigger of the same upload have different ids, so use one or the
other.

Settings (local.settings.json locally, app settings on Azure): ``AzureWebJobsStorage`` (the
account of the trigger, the uploads, the Table store and the dead-letter queue),
``PORTABLE_STORE`` (``azuretable://TABLE``) and ``PORTABLE_DLQ`` (``azqueue://QUEUE``).

Retries and poison (host.json): the host delivers a failing blob again until its dequeue count
reaches ``extensions.queues.maxDequeueCount`` (5), then writes it to
``webjobs-blobtrigger-poison``. The pipeline dead-letters on that 5th attempt itself, into
PORTABLE_DLQ, with its error (empty files at once): ``portable dlq list`` shows both, and
``portable dlq replay`` runs a letter through ``target=`` (samples.upload:app) again. Change
``maxDequeueCount`` and ``MAX_DEQUEUE_COUNT`` together.

Run locally from a folder that holds this file, host.json, requirements.txt and the
``samples`` package (the function app's root): start Azurite, then ``func start``.
"""

import os

import azure.functions as func

from adapters import azure
from samples.upload import app as upload

MAX_DEQUEUE_COUNT = 5
"""host.json ``extensions.queues.maxDequeueCount``."""

app = func.FunctionApp()

azure.register(app, upload, blob_client="uploads/{name}", max_attempts=MAX_DEQUEUE_COUNT)


@app.timer_trigger(schedule="0 30 3 * * *", arg_name="timer", run_on_startup=False)
def purge_idempotency_records(timer: func.TimerRequest, context: func.Context) -> None:
    """Azure Table keeps records until deleted; claims never depend on it (expiry is checked
    in each conditional write), so this only keeps the table small."""
    from adapters.azure.store import TableStore

    TableStore.from_url(os.environ["PORTABLE_STORE"]).purge_expired()
