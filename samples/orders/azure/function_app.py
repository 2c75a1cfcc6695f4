"""samples.orders on Azure Functions (Python v2 programming model).

The handler is written once (samples/orders); this file only wires it to triggers::

    orders       queue trigger   -> the CloudEvents adapters.azure.publish sends there
    Event Grid   event_grid      -> orders published to an Event Grid topic (CloudEvents schema)

Settings (local.settings.json locally, app settings on Azure): ``AzureWebJobsStorage`` (the
account of the queue, the Table store and the dead-letter queue), ``PORTABLE_STORE``
(``azuretable://TABLE``), ``PORTABLE_DLQ`` (``azqueue://QUEUE``) and ``ORDERS_PUBLISH_TO``
(where accepted orders go: ``azqueue://orders-accepted``, or another cloud's queue or topic,
with that cloud's settings beside it: see samples/orders/README.md).

Retries and poison (host.json): a failing message is delivered again until its dequeue count
reaches ``extensions.queues.maxDequeueCount`` (5), then moved to ``orders-poison``. Invalid
orders are dead-lettered into PORTABLE_DLQ at once, and a transient failure on the 5th attempt
too, with its error; a poison message only appears if that write failed. Change
``maxDequeueCount`` and ``MAX_DEQUEUE_COUNT`` together.

Run locally from a folder that holds this file, host.json, requirements.txt and the
``samples`` package (the function app's root): start Azurite, then ``func start``.
"""

import os

import azure.functions as func

from adapters import azure
from samples.orders import app as orders

MAX_DEQUEUE_COUNT = 5
"""host.json ``extensions.queues.maxDequeueCount``."""

app = func.FunctionApp()

azure.register(app, orders, queue="orders", event_grid=True, max_attempts=MAX_DEQUEUE_COUNT)


@app.timer_trigger(schedule="0 30 3 * * *", arg_name="timer", run_on_startup=False)
def purge_idempotency_records(timer: func.TimerRequest, context: func.Context) -> None:
    """Azure Table keeps records until deleted; claims never depend on it (expiry is checked
    in each conditional write), so this only keeps the table small."""
    from adapters.azure.store import TableStore

    TableStore.from_url(os.environ["PORTABLE_STORE"]).purge_expired()
