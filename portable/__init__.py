"""portable-functions: write an event handler once, against a CloudEvent; run it on AWS Lambda,
Azure Functions, Google Cloud Functions or locally, with the same idempotency, retry and
dead-letter behaviour everywhere.

Importing this package loads no cloud SDK (nor tenacity): cold starts stay short.
"""

from cloudevents.http import CloudEvent

from . import storage
from ._app import App, handler
from ._breaker import CircuitBreaker
from ._context import Context, context
from ._deadletter import DeadLetter, MemorySink, Sink
from ._errors import (
    CircuitOpenError,
    ConfigurationError,
    EventInProgress,
    IdempotencyKeyReused,
    MalformedEventError,
    NotAStorageEvent,
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
from ._version import __version__

__all__ = [
    "App",
    "CircuitBreaker",
    "CircuitOpenError",
    "CloudEvent",
    "ConfigurationError",
    "Context",
    "DeadLetter",
    "EventInProgress",
    "IdempotencyKeyReused",
    "MalformedEventError",
    "MemorySink",
    "MemoryStore",
    "NotAStorageEvent",
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
    "from_json",
    "handler",
    "new_event",
    "storage",
    "to_json",
    "to_structured",
]
