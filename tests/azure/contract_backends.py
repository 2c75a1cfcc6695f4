"""Azurite for the Azure tests, and the Azure store and sink of the shared contract suites.

One Azurite (Blob, Queue, Table; in memory) serves the test session on free loopback ports,
whichever suites ask for it: tests/azure's conftest and the contract suite both import the
``azurite`` fixture from here, and the first user starts it, the last stops it. The code under
test finds it the way it finds Azure in production: through ``AzureWebJobsStorage``, set per
test with monkeypatch (spawned worker processes inherit it).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

import pytest

from adapters.azure._storage import DEV_ACCOUNT, DEV_KEY
from portable import Store
from portable._config import store_from
from tests.contract.backends import Backend, register
from tests.contract.sinks import SinkBackend, register_sink
from tests.emulators import free_port, require_binary, start, stop

AZURITE_HINT = "npm install -g azurite"
SETTING = "AzureWebJobsStorage"


@dataclass
class Azurite:
    """An in-memory Azurite on three free loopback ports."""

    ports: dict[str, int] = field(
        default_factory=lambda: {service: free_port() for service in ("blob", "queue", "table")})
    proc: Popen[bytes] | None = None

    def up(self, workdir: Path, *, persist: bool = False) -> None:
        """Start (again, on the same ports). ``persist``: keep the data in ``workdir`` across
        restarts, instead of in memory."""
        binary = require_binary("azurite", AZURITE_HINT)
        cmd = [binary, "--silent", "--skipApiVersionCheck", "--disableTelemetry", "--loose"]
        cmd += (["--location", str(workdir)] if persist
                else ["--inMemoryPersistence", "--extentMemoryLimit", "256"])
        for service, port in self.ports.items():
            cmd += [f"--{service}Host", "127.0.0.1", f"--{service}Port", str(port)]
        # All three services listen before the first test.
        self.proc = start(cmd, tuple(self.ports.values()), timeout=60, what="azurite",
                          cwd=workdir)

    def down(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None

    def endpoint(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}/{DEV_ACCOUNT}"

    @property
    def connection_string(self) -> str:
        endpoints = ";".join(f"{service.capitalize()}Endpoint={self.endpoint(service)}"
                             for service in self.ports)
        return (f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
                f"{endpoints}")

    def use(self, monkeypatch: pytest.MonkeyPatch) -> str:
        """Point the code under test at this Azurite; returns the connection string."""
        monkeypatch.setenv(SETTING, self.connection_string)
        return self.connection_string


class _Shared:
    """The session's one Azurite, counted by the fixtures (one per conftest) that use it."""

    server: Azurite | None = None
    users = 0


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    if _Shared.server is None:
        server = Azurite()
        server.up(tmp_path_factory.mktemp("azurite"))
        _Shared.server = server
    _Shared.users += 1
    yield _Shared.server
    _Shared.users -= 1
    if _Shared.users == 0:
        _Shared.server.down()
        _Shared.server = None


def unique(prefix: str) -> str:
    """A fresh table/queue/container name (letters and digits only, valid for all three)."""
    return f"{prefix}{uuid.uuid4().hex}"


def table_url(request: pytest.FixtureRequest) -> str:
    server: Azurite = request.getfixturevalue("azurite")
    server.use(request.getfixturevalue("monkeypatch"))
    return f"azuretable://{unique('t')}?create=true"


def queue_url(request: pytest.FixtureRequest) -> str:
    """A fresh dead-letter queue; the poison queue it also reads is fresh (and absent) too,
    so other tests' poison messages stay out of the sink's letters."""
    server: Azurite = request.getfixturevalue("azurite")
    server.use(request.getfixturevalue("monkeypatch"))
    return f"azqueue://{unique('dlq')}?create=true&poison={unique('poison')}"


class AzuriteOutage:
    """An Azurite of the test's own, keeping its data on disk, stopped and started again on
    the same ports; the store reaches it through a connection setting of its own."""

    SETTING = "PORTABLE_TEST_OUTAGE_STORAGE"

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.workdir: Path = request.getfixturevalue("tmp_path") / "azurite-outage"
        self.workdir.mkdir()
        self.server = Azurite()
        self.server.up(self.workdir, persist=True)
        request.addfinalizer(self.server.down)
        request.getfixturevalue("monkeypatch").setenv(self.SETTING,
                                                      self.server.connection_string)
        self.url = f"azuretable://{unique('t')}?create=true&connection={self.SETTING}"

    def open(self) -> Store:
        return store_from(self.url)

    def down(self) -> None:
        self.server.down()

    def up(self) -> None:
        self.server.up(self.workdir, persist=True)


register(Backend("azuretable", table_url, processes=True, outage=AzuriteOutage))
register_sink(SinkBackend("azqueue", queue_url))
