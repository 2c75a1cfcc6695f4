"""gcp-storage-emulator (PyPI) for the tests that keep objects in Cloud Storage.

One in-memory emulator per test session on a free loopback port, started by the first test
that asks and stopped when the last user is done. google-cloud-storage finds it the way it
would in any local run: through ``STORAGE_EMULATOR_HOST`` (set per test by ``gcs_env``), with
anonymous credentials.

What it does not do, and the tests allow for: it keeps only the live generation of an object
(no object versioning), and serves whatever generation is live whichever one is asked for.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.emulators import free_port, start, stop, unavailable

ENV = "STORAGE_EMULATOR_HOST"
PROJECT = "portable-test"
LAUNCHER = "from gcp_storage_emulator.__main__ import main; import sys; sys.exit(main())"


class _Shared:
    """The session's one emulator, however many test modules and conftests import the
    fixture (each import is a fixture of its own): the first user starts it, the last stops
    it. One emulator, because the object backends keep their client for the process."""

    endpoint = ""
    users = 0
    proc: subprocess.Popen[bytes] | None = None


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    """http://127.0.0.1:PORT of the session's storage emulator."""
    if _Shared.proc is None:
        if importlib.util.find_spec("gcp_storage_emulator") is None:
            unavailable("gcp-storage-emulator is not installed (pip install gcp-storage-emulator)")
        port = free_port()
        _Shared.proc = start([sys.executable, "-c", LAUNCHER, "start", "--host=127.0.0.1",
                              f"--port={port}", "--in-memory", "--quiet"], port,
                             what="gcp-storage-emulator")
        _Shared.endpoint = f"http://127.0.0.1:{port}"
        urllib.request.urlopen(f"{_Shared.endpoint}/storage/v1/b?project={PROJECT}",
                               timeout=10).close()
    _Shared.users += 1
    try:
        yield _Shared.endpoint
    finally:
        _Shared.users -= 1
        if _Shared.users == 0 and _Shared.proc is not None:
            stop(_Shared.proc)
            _Shared.proc = None


@pytest.fixture
def gcs_env(gcs_emulator: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """STORAGE_EMULATOR_HOST (and a project) for this test and the processes it starts."""
    monkeypatch.setenv(ENV, gcs_emulator)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    return gcs_emulator


@pytest.fixture
def gcs(gcs_env: str) -> Any:
    """A google-cloud-storage client of the emulator, for the test's own setup and checks."""
    from google.cloud.storage import Client

    return Client(project=PROJECT)


def new_bucket(client: Any, prefix: str = "objects") -> Any:
    return client.create_bucket(f"{prefix}-{uuid.uuid4().hex[:16]}")
