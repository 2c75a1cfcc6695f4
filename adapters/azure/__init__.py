"""The Azure adapter: Event Grid, blob trigger and Storage queue deliveries as CloudEvents
(``ingress``), CloudEvents out to Event Grid and Storage queues (``egress``), and the Functions
v2 entry (``register``). The Table store (``azuretable://``) and the queue dead-letter sink
(``azqueue://``) are reached by URL: ``adapters.azure.store`` and ``adapters.azure.dlq``.

Importing it loads neither azure.storage nor azure.data (nor azure.functions: ``register``
imports that, already loaded by the Functions host, when it is called).
"""

import typing as _typing

from portable._lazy import lazy_exports as _lazy_exports

if _typing.TYPE_CHECKING:
    from ._auth import EntraToken, SharedSecret
    from .egress import from_cloudevent, publish
    from .entry import register
    from .ingress import (
        Item,
        blob_client_items,
        queue_items,
        to_cloudevents,
        to_items,
        validation_code,
    )

# Loaded on first use: an entry imports only the modules it needs at cold start.
__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "EntraToken": "._auth",
        "Item": ".ingress",
        "SharedSecret": "._auth",
        "blob_client_items": ".ingress",
        "from_cloudevent": ".egress",
        "publish": ".egress",
        "queue_items": ".ingress",
        "register": ".entry",
        "to_cloudevents": ".ingress",
        "to_items": ".ingress",
        "validation_code": ".ingress",
    },
    globals(),
)

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
