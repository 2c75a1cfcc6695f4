"""The stores the contract suite runs against: one :class:`Backend` entry each.

Adding a backend is one entry. Either append ``Backend(...)`` to ``BACKENDS`` below, or, from
the test package of a provider, write ``tests/<package>/contract_backends.py`` calling
``register(Backend(...))``: the suite imports every such module at collection, and the pytest
fixtures defined there (a session-wide emulator, say) become fixtures of the suite, so the
backend's ``url`` can ask for them with ``request.getfixturevalue(name)``.

A Backend says:

* ``url(request)``: the URL of a fresh, empty store for one test (a new file, key prefix,
  table or collection); every client the test opens reaches that one store;
* ``processes``: whether several processes can share the store (the process race and the
  crash cases run only then; an in-process store cannot);
* ``fork_safe``: whether a store opened before ``os.fork()`` keeps working in the children and
  in the parent (forking servers such as gunicorn with ``--preload``);
* ``outage(request)``: optional, an :class:`Outage` whose store can be taken down and brought
  back in the middle of a test (the outage cases run only for backends that have one);
* ``marks``: pytest marks for its cases, e.g. ``pytest.mark.emulator("redis-server")``.

Emulators are started by ``tests.emulators`` helpers: missing locally skips, missing in CI fails.
"""

from __future__ import annotations

import importlib
import shutil
import signal
import sqlite3
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pytest

from portable import MemorySink, Pipeline, Store
from portable._app import Handler
from portable._config import store_from
from portable._redis import RedisStore
from portable._sqlite import SQLiteStore, path_from_url
from tests.emulators import free_port, require_binary, start, stop

TESTS = Path(__file__).resolve().parent.parent
REDIS_HINT = "apt-get install redis-server"


class Outage(Protocol):
    """A store that a test can take down and bring back while a client holds it open."""

    def open(self) -> Store: ...

    def down(self) -> None: ...

    def up(self) -> None: ...


@dataclass(frozen=True)
class Backend:
    name: str
    url: Callable[[pytest.FixtureRequest], str]
    processes: bool = True
    fork_safe: bool = False
    outage: Callable[[pytest.FixtureRequest], Outage] | None = field(default=None, compare=False)
    marks: tuple[pytest.MarkDecorator, ...] = ()


BACKENDS: list[Backend] = []


class StoreFactory:
    """Clients of one test's store: each call opens another, as another worker would.

    An in-process store (``processes=False``) can only be shared by reference: each call
    returns the same instance.
    """

    def __init__(self, backend: Backend, url: str) -> None:
        self.backend = backend
        self.url = url
        self._opened: list[Store] = []

    def __call__(self) -> Store:
        if self._opened and not self.backend.processes:
            return self._opened[0]
        store = store_from(self.url)
        self._opened.append(store)
        return store

    def pipeline(self, handler: Handler, **options: object) -> Pipeline:
        """An instance of function "contract": a pipeline on a new client, a memory sink and
        no in-process retries."""
        options.setdefault("name", "contract")
        options.setdefault("store", self())
        options.setdefault("dlq", MemorySink())
        options.setdefault("retry", 1)
        return Pipeline(handler, **options)

    def close(self) -> None:
        for store in self._opened:
            store.close()


def register(backend: Backend) -> Backend:
    if any(known.name == backend.name for known in BACKENDS):
        raise ValueError(f"contract backend {backend.name!r} is registered twice")
    BACKENDS.append(backend)
    return backend


# -- redis-server ------------------------------------------------------------------------


@dataclass
class RedisServer:
    """A throw-away redis-server on a free loopback port: no snapshots, no append-only file."""

    binary: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def launch(cls, binary: str | None = None) -> RedisServer:
        server = cls(binary or require_binary("redis-server", REDIS_HINT))
        server.up()
        return server

    @staticmethod
    def binary_path() -> str | None:
        return shutil.which("redis-server")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def up(self) -> None:
        """Start (again, on the same port: clients reconnect to it)."""
        cmd = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.proc = start(cmd, self.port, timeout=20, what="redis-server")

    def down(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None:
            stop(self.proc, sig)
            self.proc = None


class RedisOutage:
    """A redis-server of the test's own, so that stopping it leaves the shared one running."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.request = request
        self.server = RedisServer.launch()
        request.addfinalizer(self.server.down)

    def open(self) -> Store:
        store = RedisStore(self.server.url)
        self.request.addfinalizer(store.close)
        return store

    def down(self) -> None:
        self.server.down()

    def up(self) -> None:
        self.server.up()


def redis_url(request: pytest.FixtureRequest) -> str:
    server: RedisServer = request.getfixturevalue("redis_server")
    return f"{server.url}?prefix=contract-{uuid.uuid4().hex}:"


# -- sqlite --------------------------------------------------------------------------------


def sqlite_url(request: pytest.FixtureRequest) -> str:
    path: Path = request.getfixturevalue("tmp_path") / f"store-{uuid.uuid4().hex}.db"
    return f"sqlite:///{path}"


class SQLiteOutage:
    """Another connection holds the database's write lock (a backup, a stuck process)."""

    LOCK_WAIT_MS = 100

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.request = request
        self.url = sqlite_url(request)
        self.locker: sqlite3.Connection | None = None
        request.addfinalizer(self.up)

    def open(self) -> Store:
        store = SQLiteStore(self.url)
        self.request.addfinalizer(store.close)
        # SQLite waits up to 10 s for a lock; shorten the wait of this thread's connection so
        # that the outage shows at once instead.
        store._db.connection().execute(f"PRAGMA busy_timeout = {self.LOCK_WAIT_MS}")
        return store

    def down(self) -> None:
        self.locker = sqlite3.connect(path_from_url(self.url), isolation_level=None)
        self.locker.execute("BEGIN EXCLUSIVE")

    def up(self) -> None:
        if self.locker is not None:
            self.locker.execute("ROLLBACK")
            self.locker.close()
            self.locker = None


register(Backend("memory", lambda request: "memory://", processes=False))
register(Backend("sqlite", sqlite_url, fork_safe=True, outage=SQLiteOutage))
register(
    Backend(
        "redis",
        redis_url,
        fork_safe=True,
        outage=RedisOutage,
        marks=(pytest.mark.emulator("redis-server"),),
    )
)


def discover() -> list[str]:
    """Import ``tests/<package>/contract_backends.py`` modules; return their module names."""
    names = [
        f"tests.{path.parent.name}.contract_backends"
        for path in sorted(TESTS.glob("*/contract_backends.py"))
    ]
    for name in names:
        importlib.import_module(name)
    return names
