"""The Azure adapter: Event Grid, blob trigger and Storage queue deliveries as CloudEvents
(``ingress``), and the Functions v2 entry (``register``).

Importing it loads neither azure.storage nor azure.data (nor azure.functions: ``register``
imports that, already loaded by the Functions host, when it is called).
"""

from .entry import register
from .ingress import Item, blob_client_items, queue_items, to_cloudevents, to_items, validation_code

__all__ = [
    "Item",
    "blob_client_items",
    "queue_items",
    "register",
    "to_cloudevents",
    "to_items",
    "validation_code",
]
