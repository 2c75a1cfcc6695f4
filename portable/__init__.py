"""portable-functions: write an event handler once, against a CloudEvent; run it on AWS Lambda,
Azure Functions, Google Cloud Functions or locally, with the same idempotency, retry and
dead-letter behaviour everywhere.

Importing this package loads no cloud SDK (nor tenacity), and not even its own modules: each
public name is imported on first use (PEP 562), so an entry pays only for what it uses and
cold starts stay short.
"""

import typing as _typing

from ._lazy import lazy_exports as _lazy_exports
from ._version import __version__

if _typing.TYPE_CHECKING:
    from cloudevents.http import CloudEvent

    from . import storage, testing
    from ._app import App, handler
    from ._breaker import CircuitBreaker
    from ._context import Context, context, derived_id
    from ._deadletter import DeadLetter, MemorySink, Sink
    from ._emit import emit
    from ._errors import (
        CircuitOpenError,
        ConfigurationError,
        DataValidationError,
        EventInProgress,
        IdempotencyKeyReused,
        MalformedEventError,
        NotAStorageEvent,
        ObjectNotFound,
        PermanentError,
        PortableError,
        RetryableError,
        SinkUnavailable,
        StoreUnavailable,
        UnknownRouteError,
    )
    from ._events import from_json, new_event, to_json, to_structured
    from ._pipeline import Outcome, Pipeline, Result
    from ._retry import RetryPolicy
    from ._store import MemoryStore, Record, Status, Store

# public name -> the module that defines it
_ORIGINS: dict[str, str] = {
    "CloudEvent": "cloudevents.http",
    "storage": "portable.storage",
    "testing": "portable.testing",
    **dict.fromkeys(("App", "handler"), "portable._app"),
    "CircuitBreaker": "portable._breaker",
    **dict.fromkeys(("Context", "context", "derived_id"), "portable._context"),
    **dict.fromkeys(("DeadLetter", "MemorySink", "Sink"), "portable._deadletter"),
    "emit": "portable._emit",
    **dict.fromkeys(
        (
            "CircuitOpenError",
            "ConfigurationError",
            "DataValidationError",
            "EventInProgress",
            "IdempotencyKeyReused",
            "MalformedEventError",
            "NotAStorageEvent",
            "ObjectNotFound",
            "PermanentError",
            "PortableError",
            "RetryableError",
            "SinkUnavailable",
            "StoreUnavailable",
            "UnknownRouteError",
        ),
        "portable._errors",
    ),
    **dict.fromkeys(("from_json", "new_event", "to_json", "to_structured"), "portable._events"),
    **dict.fromkeys(("Outcome", "Pipeline", "Result"), "portable._pipeline"),
    "RetryPolicy": "portable._retry",
    **dict.fromkeys(("MemoryStore", "Record", "Status", "Store"), "portable._store"),
}


_MODULES = frozenset({"storage", "testing"})
"""Public submodules among the names above."""


__getattr__, __dir__ = _lazy_exports(__name__, _ORIGINS, globals(), _MODULES)

__all__ = [
    "App",
    "CircuitBreaker",
    "CircuitOpenError",
    "CloudEvent",
    "ConfigurationError",
    "Context",
    "DataValidationError",
    "DeadLetter",
    "EventInProgress",
    "IdempotencyKeyReused",
    "MalformedEventError",
    "MemorySink",
    "MemoryStore",
    "NotAStorageEvent",
    "ObjectNotFound",
    "Outcome",
    "PermanentError",
    "Pipeline",
    "PortableError",
    "Record",
    "Result",
    "RetryPolicy",
    "RetryableError",
    "Sink",
    "SinkUnavailable",
    "Status",
    "Store",
    "StoreUnavailable",
    "UnknownRouteError",
    "__version__",
    "context",
    "derived_id",
    "emit",
    "from_json",
    "handler",
    "new_event",
    "storage",
    "testing",
    "to_json",
    "to_structured",
]
