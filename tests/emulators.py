"""Starting local emulators and servers for tests: free loopback ports, readiness, clean stop.

A test that needs an emulator asks for its session fixture. When the emulator cannot run here
the test is skipped, except in CI (CI=true), where a missing emulator fails the run: CI must
exercise every real component.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence

import pytest

from portable._net import free_port

__all__ = ["free_port", "output", "require_binary", "start", "stop", "unavailable",
           "wait_for_port"]

_LOGS: dict[int, str] = {}
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip locally, fail in CI."""
    if IN_CI:
        pytest.fail(f"CI must run this test, but {reason}", pytrace=False)
    pytest.skip(reason)


def require_binary(name: str, install_hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed ({install_hint})")
    assert path is not None
    return path


def wait_for_port(
    port: int,
    proc: subprocess.Popen[bytes] | None = None,
    timeout: float = 60.0,
    what: str = "server",
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"{what} exited with {proc.returncode} before listening:\n{output(proc)}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout}s")


def start(
    cmd: Sequence[str],
    port: int,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    what: str = "server",
    cwd: str | os.PathLike[str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start a process in its own process group and wait until it listens on ``port``.

    Its output goes to a temporary file (a pipe nobody reads would block a chatty server);
    :func:`output` reads it.
    """
    log = tempfile.NamedTemporaryFile(prefix="emulator-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        list(cmd),
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
        cwd=cwd,
    )
    log.close()
    _LOGS[proc.pid] = log.name
    try:
        wait_for_port(port, proc, timeout, what)
    except BaseException:
        stop(proc)
        raise
    return proc


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Stop a process started by :func:`start` and everything it spawned."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout)
    path = _LOGS.pop(proc.pid, None)
    if path:
        os.unlink(path)


def output(proc: subprocess.Popen[bytes]) -> str:
    """What a process started by :func:`start` has printed so far."""
    path = _LOGS.get(proc.pid)
    if path is None:
        return ""
    with open(path, "rb") as log:
        return log.read().decode(errors="replace")
