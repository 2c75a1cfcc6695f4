"""The Azure adapter: Event Grid, blob trigger and Storage queue deliveries as CloudEvents
(``ingress``), CloudEvents out to Event Grid and Storage queues (``egress``), and the Functions
v2 entry (``register``). The Table store (``azuretable://``) and the queue dead-letter sink
(``azqueue://``) are reached by URL: ``adapters.azure.store`` and ``adapters.azure.dlq``.

Importing it loads neither azure.storage nor azure.data (nor azure.functions: ``register``
imports that, already loaded by the Functions host, when it is called).
"""

from ._auth import EntraToken, SharedSecret
from .egress import from_cloudevent, publish
from .entry import register
from .ingress import Item, blob_client_items, queue_items, to_cloudevents, to_items, validation_code

__all__ = [
    "EntraToken",
    "Item",
    "SharedSecret",
    "blob_client_items",
    "from_cloudevent",
    "publish",
    "queue_items",
    "register",
    "to_cloudevents",
    "to_items",
    "validation_code",
]
