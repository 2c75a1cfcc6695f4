"""The gcloud Pub/Sub and Firestore emulators, and the GCP store and sink of the contract suites.

Each emulator starts once per test session, on a free loopback port, whichever test package
asks first (the contract suite and tests/gcp both use these fixtures), and stops when the last
user is done. The code under test finds it through PUBSUB_EMULATOR_HOST /
FIRESTORE_EMULATOR_HOST and GOOGLE_CLOUD_PROJECT, set per test by ``pubsub_env`` /
``firestore_env`` (worker processes inherit them).
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import pytest

from tests.contract.backends import Backend, register
from tests.contract.sinks import SinkBackend, register_sink
from tests.emulators import free_port, require_binary, start, stop

T = TypeVar("T")

PROJECT = "portable-test"
GCLOUD_HINT = ("install the Google Cloud CLI with its pubsub and firestore emulator components "
               "and Java 17+")
READY_TIMEOUT = 60.0


@dataclass
class Emulator:
    """One ``gcloud beta emulators <name>`` process per test session, shared by its users."""

    name: str
    env_var: str
    users: int = 0
    host: str = ""
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def acquire(self) -> str:
        if self.proc is None:
            gcloud = require_binary("gcloud", GCLOUD_HINT)
            port = free_port()
            self.host = f"127.0.0.1:{port}"
            cmd = [gcloud, "beta", "emulators", self.name, "start", f"--host-port={self.host}",
                   "--quiet"]
            # The port opens before the emulator serves: its HTTP root answers when it does.
            # gcloud waits for its Java server, so Java is stopped first (else an orphan that
            # PID 1 may never reap).
            self.proc = start(cmd, port, timeout=READY_TIMEOUT, what=f"{self.name} emulator",
                              ready_url=f"http://{self.host}/", stop_first=("java",))
        self.users += 1
        return self.host

    def release(self) -> None:
        self.users -= 1
        if self.users == 0 and self.proc is not None:
            stop(self.proc)
            self.proc = None


PUBSUB = Emulator("pubsub", "PUBSUB_EMULATOR_HOST")
FIRESTORE = Emulator("firestore", "FIRESTORE_EMULATOR_HOST")


def _session(emulator: Emulator) -> Iterator[str]:
    host = emulator.acquire()
    try:
        yield host
    finally:
        emulator.release()


@pytest.fixture(scope="session")
def pubsub_emulator() -> Iterator[str]:
    """host:port of the session's Pub/Sub emulator."""
    yield from _session(PUBSUB)


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[str]:
    """host:port of the session's Firestore emulator."""
    yield from _session(FIRESTORE)


@pytest.fixture
def pubsub_env(pubsub_emulator: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The environment that points google-cloud-pubsub at the emulator, for this test."""
    monkeypatch.setenv(PUBSUB.env_var, pubsub_emulator)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    return pubsub_emulator


@pytest.fixture
def firestore_env(firestore_emulator: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The environment that points google-cloud-firestore at the emulator, for this test."""
    monkeypatch.setenv(FIRESTORE.env_var, firestore_emulator)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    return firestore_emulator


def eventually(check: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    """The first truthy value of ``check``: emulators deliver and dead-letter asynchronously."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.1)
    return value


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def firestore_url(request: pytest.FixtureRequest) -> str:
    """A collection of the test's own."""
    request.getfixturevalue("firestore_env")
    return f"firestore://{unique('contract')}"


def pubsub_url(request: pytest.FixtureRequest) -> str:
    """A topic (and managed subscription) of the test's own, created on first use."""
    request.getfixturevalue("pubsub_env")
    return f"pubsub://projects/{PROJECT}/topics/{unique('dlq')}?create=true"


register(Backend("firestore", firestore_url, processes=True))
register_sink(SinkBackend("pubsub", pubsub_url))
