"""Starting local emulators and servers for tests: free loopback ports, readiness, clean stop.

The processes are started and stopped by ``portable dev``'s launcher (portable._emulators),
so both stop a process group the same way (named children first, then the leader, then
whatever is left). A test that needs an emulator asks for its session fixture. When the
emulator cannot run here the test is skipped, except in CI (CI=true), where a missing emulator
fails the run: CI must exercise every real component.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from portable import _emulators
from portable._net import free_port

__all__ = ["free_port", "output", "require_binary", "start", "stop", "unavailable"]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_RUNNING: dict[int, _emulators.Running] = {}


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


def start(
    cmd: Sequence[str],
    port: int | Sequence[int],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    what: str = "server",
    cwd: str | os.PathLike[str] | None = None,
    ready_url: str | None = None,
    stop_first: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    """Start a process in its own process group and wait until it listens on ``port`` (every
    one of them) and, when given, ``ready_url`` answers 200. ``stop_first``: commands of its
    group stopped before it (a launcher that waits for its server). Its output goes to a log
    file that :func:`output` reads."""
    spec = _emulators.Process(
        what, list(cmd), (port,) if isinstance(port, int) else tuple(port), env=env or {},
        ready_url=ready_url, stop_first=stop_first, cwd=Path(cwd) if cwd else None)
    running = _emulators.launch(spec, Path(tempfile.mkdtemp(prefix="emulator-")))
    _RUNNING[running.proc.pid] = running
    try:
        _emulators.ready(running, timeout)
    except _emulators.EmulatorError as exc:
        stop(running.proc)
        raise RuntimeError(str(exc)) from None
    return running.proc


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Stop a process started by :func:`start` and everything it spawned; SIGKILL kills the
    group at once."""
    running = _RUNNING.pop(proc.pid)
    _emulators.stop(running, timeout, sig)
    if running.log_path is not None:
        shutil.rmtree(running.log_path.parent, ignore_errors=True)


def output(proc: subprocess.Popen[bytes]) -> str:
    """What a process started by :func:`start` has printed so far."""
    running = _RUNNING.get(proc.pid)
    if running is None or running.log_path is None or not running.log_path.exists():
        return ""
    return running.log_path.read_bytes().decode(errors="replace")
