"""The dead-letter sinks the sink contract suite runs against: one :class:`SinkBackend` each.

Provider test packages register theirs from ``tests/<package>/contract_backends.py`` (the same
module that registers their store, see backends.py): ``register_sink(SinkBackend(...))``.
``url(request)`` gives the URL of a fresh, empty sink for one test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class SinkBackend:
    name: str
    url: Callable[[pytest.FixtureRequest], str]
    shared: bool = True
    """Whether a second client of the same URL sees the letters (not for memory://)."""


SINKS: list[SinkBackend] = []


def register_sink(backend: SinkBackend) -> SinkBackend:
    if any(known.name == backend.name for known in SINKS):
        raise ValueError(f"contract sink {backend.name!r} is registered twice")
    SINKS.append(backend)
    return backend


def _sqlite_url(request: pytest.FixtureRequest) -> str:
    path: Path = request.getfixturevalue("tmp_path") / f"dlq-{uuid.uuid4().hex}.db"
    return f"sqlite:///{path}"


register_sink(SinkBackend("memory", lambda request: "memory://", shared=False))
register_sink(SinkBackend("sqlite", _sqlite_url))
