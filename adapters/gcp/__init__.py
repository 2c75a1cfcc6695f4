"""The Google Cloud adapter: Eventarc CloudEvents, legacy background events, Pub/Sub push,
pulled messages and Cloud Storage notifications to CloudEvents; CloudEvents to Pub/Sub
messages; the functions-framework entries. The Firestore store (``firestore://``) and the
Pub/Sub dead-letter sink (``pubsub://``) are reached by URL. Importing it loads no Google Cloud
SDK (nor functions-framework: the entries import it when they are built).

>>> from adapters import gcp
>>> main = gcp.cloud_function(handle)   # functions-framework --target main (cloudevent)
>>> push = gcp.push_handler(handle)     # HTTP target of a Pub/Sub push subscription
>>> gcp.publish(event, "projects/P/topics/T")   # CloudEvents Pub/Sub binding, binary mode
"""

import typing as _typing

from portable._lazy import lazy_exports as _lazy_exports

if _typing.TYPE_CHECKING:
    from .egress import from_cloudevent, publish
    from .entry import cloud_function, push_handler
    from .ingress import read_http, to_cloudevents

# Loaded on first use: an entry imports only the modules it needs at cold start.
__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "cloud_function": ".entry",
        "from_cloudevent": ".egress",
        "publish": ".egress",
        "push_handler": ".entry",
        "read_http": ".ingress",
        "to_cloudevents": ".ingress",
    },
    globals(),
)

__all__ = [
    "cloud_function",
    "from_cloudevent",
    "publish",
    "push_handler",
    "read_http",
    "to_cloudevents",
]
