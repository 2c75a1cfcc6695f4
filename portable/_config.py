"""Stores and sinks chosen by URL, in code or from PORTABLE_STORE / PORTABLE_DLQ.

Backends are reached lazily, by name: the core never imports a cloud SDK or a provider adapter
until a URL asks for it. Locally both default to SQLite files under ``.portable/``. On a cloud
runtime a per-instance file would neither deduplicate across instances nor keep dead letters,
so there the two settings are required (``memory://`` opts out explicitly).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from ._errors import ConfigurationError
from ._store import MemoryStore, Store

if TYPE_CHECKING:
    from ._deadletter import Sink

class BackendURL(NamedTuple):
    """``scheme://location?option=value&...`` of a store or sink."""

    location: str
    """Host and path, outer slashes stripped: a table, a queue, ``projects/P/topics/T``..."""
    options: dict[str, str]

    def flag(self, option: str) -> bool:
        return self.options.get(option, "").lower() in ("1", "true", "yes")


def backend_url(url: str, scheme: str, known: Collection[str], what: str,
                expected: str) -> BackendURL:
    """Split a store or sink URL, the same way for every backend: the scheme checked, a
    location starting with a host part required, and unknown options refused by name (a
    mistyped option must not be ignored). ``what`` / ``expected`` name the backend and its URL
    form in the messages."""
    from urllib.parse import parse_qsl, urlsplit  # only a backend's construction needs it

    parts = urlsplit(url)
    location = (parts.netloc + parts.path).strip("/")
    if parts.scheme.lower() != scheme or not parts.netloc:
        raise ConfigurationError(f"not a {what} URL: {url!r} (expected {expected})")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(options.keys() - set(known))
    if unknown:
        raise ConfigurationError(f"unknown option(s) {', '.join(unknown)} in the {what} URL "
                                 f"{url!r}; known: {', '.join(sorted(known))}")
    return BackendURL(location, options)


STORE_ENV = "PORTABLE_STORE"
DLQ_ENV = "PORTABLE_DLQ"
DEFAULT_STORE = "sqlite:///.portable/idempotency.db"
DEFAULT_DLQ = "sqlite:///.portable/dead-letters.db"

# scheme -> (module, class, extra to install). Every class has ``from_url(url)``.
STORES: dict[str, tuple[str, str, str | None]] = {
    "sqlite": ("portable._sqlite", "SQLiteStore", None),
    "redis": ("portable._redis", "RedisStore", "redis"),
    "rediss": ("portable._redis", "RedisStore", "redis"),
    "dynamodb": ("adapters.aws.store", "DynamoDBStore", "aws"),
    "azuretable": ("adapters.azure.store", "TableStore", "azure"),
    "firestore": ("adapters.gcp.store", "FirestoreStore", "gcp"),
}
SINKS: dict[str, tuple[str, str, str | None]] = {
    "sqlite": ("portable._sqlite", "SQLiteSink", None),
    "sqs": ("adapters.aws.dlq", "SQSSink", "aws"),
    "azqueue": ("adapters.azure.dlq", "QueueSink", "azure"),
    "pubsub": ("adapters.gcp.dlq", "PubSubSink", "gcp"),
}

# Environment variables each platform sets for user code, and nothing sets locally.
CLOUD_MARKERS: dict[str, tuple[str, ...]] = {
    "AWS Lambda": ("AWS_LAMBDA_FUNCTION_NAME",),
    "Azure Functions": ("WEBSITE_INSTANCE_ID",),
    "Google Cloud Functions / Cloud Run": ("K_SERVICE", "FUNCTION_NAME"),
}


def detect_cloud(environ: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    for platform, names in CLOUD_MARKERS.items():
        if any(env.get(name) for name in names):
            return platform
    return None


def check_cloud_settings(
    store: object, dlq: object, environ: Mapping[str, str] | None = None
) -> None:
    """Fail at cold start on a cloud runtime where the store or sink would be a local file."""
    env = os.environ if environ is None else environ
    platform = detect_cloud(env)
    if platform is None:
        return
    missing = [
        name
        for name, given in ((STORE_ENV, store), (DLQ_ENV, dlq))
        if given is None and not env.get(name)
    ]
    if missing:
        raise ConfigurationError(
            f"running on {platform} without {' and '.join(missing)}: a local SQLite file there "
            "would neither deduplicate across instances nor keep dead letters. Set "
            f"{STORE_ENV} (e.g. dynamodb://table, azuretable://table, firestore://collection, "
            f"redis://host:6379/0) and {DLQ_ENV} (e.g. sqs://queue-url, azqueue://queue, "
            "pubsub://projects/P/topics/T), or memory:// to opt out on purpose."
        )


def store_from(spec: str | Store | None) -> Store:
    if isinstance(spec, Store):
        return spec
    url = spec or os.environ.get(STORE_ENV) or DEFAULT_STORE
    if url.startswith("memory:"):
        return MemoryStore()
    return _load(url, STORES, "store")  # type: ignore[no-any-return]


def sink_from(spec: str | Sink | None) -> Sink:
    from ._deadletter import MemorySink, Sink  # loaded with the first dead letter, not at start

    if isinstance(spec, Sink):
        return spec
    url = spec or os.environ.get(DLQ_ENV) or DEFAULT_DLQ
    if url.startswith("memory:"):
        return MemorySink()
    return _load(url, SINKS, "dead-letter sink")  # type: ignore[no-any-return]


def _load(url: str, table: Mapping[str, tuple[str, str, str | None]], what: str) -> Any:
    scheme = url.split(":", 1)[0].lower()
    if scheme not in table:
        known = ", ".join(["memory"] + sorted(table))
        raise ConfigurationError(f"unknown {what} URL scheme {scheme!r} in {url!r}; known: {known}")
    return backend_class(table[scheme], f"{what} {url!r}").from_url(url)


def backend_class(entry: tuple[str, str, str | None], needed_by: str) -> Any:
    """The class a backend table names (module, class, extra), imported now; a missing
    dependency is a ConfigurationError naming the extra to install."""
    module_name, class_name, extra = entry
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f" (pip install 'portable-functions[{extra}]')" if extra else ""
        raise ConfigurationError(f"{needed_by} needs {exc.name or module_name}{hint}") from exc
    return getattr(module, class_name)
