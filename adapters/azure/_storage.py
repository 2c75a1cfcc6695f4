"""Azure Storage clients from the Functions host's own connection setting, and resource URLs.

The setting is ``AzureWebJobsStorage`` unless a URL names another with ``connection=`` (the
same name a trigger's ``connection`` property takes). It holds, as the host reads it:

* a connection string: ``DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...``,
  optionally with explicit ``BlobEndpoint=``/``QueueEndpoint=``/``TableEndpoint=`` (Azurite on
  other ports), or ``UseDevelopmentStorage=true`` (Azurite on its default ports); or
* nothing, with identity-based settings beside it: ``<setting>__accountName`` or
  ``<setting>__blobServiceUri`` / ``__queueServiceUri`` / ``__tableServiceUri``; the
  credential is azure-identity's DefaultAzureCredential (managed identity on Azure).

The SDKs (azure.storage.*, azure.data.tables, azure.identity) are imported when a client is
built, never when this module is.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
from collections.abc import Callable, Collection
from typing import Any

from portable._config import BackendURL, backend_url
from portable._errors import ConfigurationError, missing_extra

DEFAULT_SETTING = "AzureWebJobsStorage"

# Azurite's well-known development account (published in the Azure Storage docs).
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
           "KBHBeksoGMGw==")
DEV_PORTS = {"blob": 10000, "queue": 10001, "table": 10002}

# service -> (module, service client class, pip package for the hint)
SERVICES: dict[str, tuple[str, str, str]] = {
    "blob": ("azure.storage.blob", "BlobServiceClient", "azure-storage-blob"),
    "queue": ("azure.storage.queue", "QueueServiceClient", "azure-storage-queue"),
    "table": ("azure.data.tables", "TableServiceClient", "azure-data-tables"),
}
IDENTITY_PACKAGE = "azure-identity"

# The SDKs retry for long by default (tables: 10 tries, backoff up to 120 s; blobs and queues:
# 15 s, then 18 s, ...). A store or sink that is down must fail the delivery within seconds instead:
# the pipeline's retry policy and the platform's redelivery take it from there.
_TIMEOUTS = {"connection_timeout": 5, "read_timeout": 30}
CLIENT_OPTIONS: dict[str, dict[str, Any]] = {
    "blob": {"retry_total": 2, "initial_backoff": 0.5, "increment_base": 1,
             "random_jitter_range": 0.25, **_TIMEOUTS},
    "queue": {"retry_total": 2, "initial_backoff": 0.5, "increment_base": 1,
              "random_jitter_range": 0.25, **_TIMEOUTS},
    "table": {"retry_total": 2, "retry_backoff_factor": 0.2, "retry_backoff_max": 2, **_TIMEOUTS},
}

# Resource names as the services accept them.
NAMES: dict[str, re.Pattern[str]] = {
    "table": re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$"),
    "queue": re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"),
    "container": re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"),
}
NAME_RULES = {
    "table": "3-63 letters and digits, starting with a letter",
    "queue": "3-63 lowercase letters, digits and single hyphens",
    "container": "3-63 lowercase letters, digits and single hyphens",
}


def development_storage() -> str:
    """The connection string ``UseDevelopmentStorage=true`` stands for."""
    endpoints = ";".join(f"{service.capitalize()}Endpoint=http://127.0.0.1:{port}/{DEV_ACCOUNT}"
                         for service, port in DEV_PORTS.items())
    return (f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"{endpoints}")


def service_client(service: str, setting: str = DEFAULT_SETTING) -> Any:
    """A Blob/Queue/Table service client for the account in ``setting``."""
    module_name, class_name, package = SERVICES[service]
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except ImportError as exc:
        raise missing_extra("azure", package) from exc
    value = os.environ.get(setting, "").strip()
    if value:
        if value.replace(" ", "").lower() == "usedevelopmentstorage=true":
            value = development_storage()
        try:
            return cls.from_connection_string(value, **CLIENT_OPTIONS[service])
        except ValueError as exc:
            raise ConfigurationError(
                f"the setting {setting} is not a usable storage connection string: {exc}") from exc
    endpoint = _identity_endpoint(service, setting)
    return cls(endpoint, credential=_default_credential(), **CLIENT_OPTIONS[service])


class LazyClient:
    """A client built on first use, and built again in a forked child: a child must not talk
    over its parent's pooled connections (gunicorn --preload, multiprocessing's fork)."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._client: Any = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def get(self) -> Any:
        if self._pid != os.getpid():  # forked: leave the parent's client (and lock) alone
            self._pid, self._client, self._lock = os.getpid(), None, threading.Lock()
        with self._lock:
            if self._client is None:
                self._client = self._build()
            return self._client

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._pid == os.getpid():
            client.close()


def check_name(kind: str, name: str) -> str:
    if not NAMES[kind].match(name):
        raise ConfigurationError(f"{name!r} is not a valid {kind} name: use {NAME_RULES[kind]}")
    return name


def parse_url(url: str, scheme: str, kind: str, known: Collection[str]) -> BackendURL:
    """A store or sink URL (portable's rules) whose location is a valid ``kind`` name."""
    parsed = backend_url(url, scheme, known, f"Azure {kind}", f"{scheme}://NAME")
    return parsed._replace(location=check_name(kind, parsed.location))


def _identity_endpoint(service: str, setting: str) -> str:
    uri = os.environ.get(f"{setting}__{service}ServiceUri", "").strip()
    if uri:
        return uri
    account = os.environ.get(f"{setting}__accountName", "").strip()
    if account:
        return f"https://{account}.{service}.core.windows.net"
    raise ConfigurationError(
        f"no Azure Storage account: set {setting} to a connection string (locally "
        f"'UseDevelopmentStorage=true' for Azurite), or {setting}__accountName for an "
        "identity-based connection")


def _default_credential() -> Any:
    try:
        identity = importlib.import_module("azure.identity")
    except ImportError as exc:
        raise ConfigurationError(
            f"an identity-based storage connection needs {IDENTITY_PACKAGE}: "
            f"pip install {IDENTITY_PACKAGE}") from exc
    return identity.DefaultAzureCredential()
