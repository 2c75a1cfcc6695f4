"""Fixtures of the store contract suite (see tests/contract/backends.py to add a backend).

``backend`` is parametrized over every registered Backend; a test marked
``@pytest.mark.needs("processes")`` (or ``"fork_safe"``, ``"outage"``) runs only for the
backends that have that capability.
"""

from __future__ import annotations

import importlib
import signal
from collections.abc import Iterator

import pytest

from tests.contract.backends import (
    BACKENDS,
    Backend,
    Outage,
    RedisServer,
    StoreFactory,
    discover,
)

# The fixtures of provider backend modules become fixtures of this suite.
for _module_name in discover():
    for _name, _value in vars(importlib.import_module(_module_name)).items():
        if not _name.startswith("_"):
            globals().setdefault(_name, _value)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "needs(*capabilities): run only for contract backends that have them "
        "('processes', 'fork_safe', 'outage')",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    needs = [need for mark in metafunc.definition.iter_markers("needs") for need in mark.args]
    chosen = [b for b in BACKENDS if all(getattr(b, need) for need in needs)]
    metafunc.parametrize("backend", [pytest.param(b, marks=b.marks, id=b.name) for b in chosen])


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole session, on a free port; each test uses its own prefix."""
    server = RedisServer.launch()
    yield server
    server.down(signal.SIGTERM)


@pytest.fixture
def store_factory(backend: Backend, request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
    factory = StoreFactory(backend, backend.url(request))
    yield factory
    factory.close()


@pytest.fixture
def outage(backend: Backend, request: pytest.FixtureRequest) -> Outage:
    assert backend.outage is not None
    return backend.outage(request)
