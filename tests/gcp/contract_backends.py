"""The gcloud Pub/Sub and Firestore emulators, and the GCP store and sink of the contract suites.

Each emulator starts once per test session, on a free loopback port, whichever test package
asks first (the contract suite and tests/gcp both use these fixtures), and stops when the last
user is done. The code under test finds it through PUBSUB_EMULATOR_HOST /
FIRESTORE_EMULATOR_HOST and GOOGLE_CLOUD_PROJECT, set per test by ``pubsub_env`` /
``firestore_env`` (worker processes inherit them).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from tests.contract.backends import Backend, register
from tests.contract.sinks import SinkBackend, register_sink
from tests.emulators import free_port, output, require_binary, start, stop

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
            self.proc = start(cmd, port, timeout=READY_TIMEOUT, what=f"{self.name} emulator")
            self._wait_ready()
        self.users += 1
        return self.host

    def release(self) -> None:
        self.users -= 1
        if self.users == 0 and self.proc is not None:
            shut_down(self.proc)
            self.proc = None

    def _wait_ready(self) -> None:
        """The port opens before the emulator serves: wait for its HTTP root to answer."""
        assert self.proc is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://{self.host}/", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        log = output(self.proc)
        shut_down(self.proc)
        self.proc = None
        raise RuntimeError(f"the {self.name} emulator did not answer on {self.host}:\n{log}")


def shut_down(proc: subprocess.Popen[bytes]) -> None:
    """Stop gcloud and the Java server it runs, leaving no process behind, not even a zombie.

    Killing the whole process group at once can end gcloud before Java, and an orphan's exit
    is never reaped where PID 1 does not reap. So Java goes first and gcloud, which waits for
    it, exits by itself; stop() then ends whatever remains of the group.
    """
    for pid in _group(proc.pid, "java"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    stop(proc)


def _group(pgid: int, command: str) -> list[int]:
    """Live processes of a process group running ``command`` (Linux /proc; none elsewhere)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            stat = entry.read_text()
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            state, _parent, group = stat[stat.rindex(")") + 2:].split()[:3]
            if name == command and int(group) == pgid and state != "Z":
                found.append(int(entry.parent.name))
    return found


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
