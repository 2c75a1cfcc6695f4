"""moto in server mode on a free loopback port, shared by every test of a session.

The server runs moto's own ``moto_server`` entry point (``moto.server.main``) in this
interpreter, so it needs ``moto[server]`` installed here, not a ``moto_server`` on PATH (a
virtualenv's scripts are not on PATH unless it is activated). It differs in one thing:
DynamoDB requests are handled one at a time. DynamoDB applies each conditional write atomically;
moto evaluates a condition and writes in two steps under a threaded server, so two concurrent
``attribute_not_exists`` claims can both succeed (seen here: 4 rounds in 100 with 16 threads).
Serialising DynamoDB requests gives the atomicity AWS guarantees without hiding anything else.
SQS, SNS, S3 and EventBridge requests stay concurrent (a long poll must not block the others).

While a server runs, boto3 reaches it through ``AWS_ENDPOINT_URL`` with dummy credentials in
``us-east-1``: no test can reach real AWS.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from adapters.aws.dev import MOTO
from tests.emulators import free_port, start, stop, unavailable

# The same launcher `portable dev --aws` uses: DynamoDB requests one at a time (see there).
LAUNCHER = MOTO
REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass
class MotoServer:
    port: int = field(default_factory=free_port)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }


class _Shared:
    """One server per session, however many conftest modules ask for it."""

    lock = threading.Lock()
    users = 0
    server: MotoServer | None = None
    proc: subprocess.Popen[bytes] | None = None
    saved: dict[str, str | None] = {}

    @classmethod
    def acquire(cls) -> MotoServer:
        with cls.lock:
            if cls.server is None:
                if not all(importlib.util.find_spec(name) for name in ("moto", "flask")):
                    unavailable("moto[server] is not installed (pip install 'moto[server]')")
                server = MotoServer()
                cls.proc = start([sys.executable, "-c", LAUNCHER, "-H", "127.0.0.1",
                                  "-p", str(server.port)], server.port, what="moto_server")
                cls.saved = {name: os.environ.get(name) for name in server.environment}
                cls.saved["AWS_PROFILE"] = os.environ.pop("AWS_PROFILE", None)
                cls.saved["AWS_SESSION_TOKEN"] = os.environ.pop("AWS_SESSION_TOKEN", None)
                os.environ.update(server.environment)
                cls.server = server
            cls.users += 1
            return cls.server

    @classmethod
    def release(cls) -> None:
        with cls.lock:
            cls.users -= 1
            if cls.users or cls.proc is None:
                return
            stop(cls.proc)
            cls.proc = None
            for name, value in cls.saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            cls.server = None


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """moto_server for the session; AWS_ENDPOINT_URL and dummy credentials point boto3 at it."""
    server = _Shared.acquire()
    yield server
    _Shared.release()
