"""Local processes for ``portable dev``: emulators and the served handler, started and stopped
so that nothing is left behind.

Each process runs in a process group of its own (in the caller's session), so Ctrl-C in a
terminal reaches ``portable dev`` alone, which then stops every group it started, in order:
some launchers must outlive their children (``gcloud`` waits for its Java server, and Java
orphaned by a dead ``gcloud`` would never be reaped where PID 1 does not reap), so the
commands named in :attr:`Process.stop_first` are stopped before the group's leader. Whatever
remains of a group after its leader exits is killed.

Provider-neutral: the adapters describe their emulators (adapters.<provider>.dev); this
module only launches, waits and stops.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

STOP_TIMEOUT = 10.0
READY_TIMEOUT = 90.0
LOG_TAIL = 2000


class EmulatorError(Exception):
    """An emulator is missing, did not start, or died."""


@dataclass
class Process:
    """What to run and how to tell that it serves."""

    name: str
    """Shown to the user: ``moto``, ``azurite``, ..."""
    command: list[str]
    ports: tuple[int, ...]
    """Every port it must listen on before it counts as started."""
    install: str = ""
    """The command that installs it, named when it is missing or fails to start."""
    binary: str | None = None
    """An executable it needs on PATH."""
    modules: tuple[str, ...] = ()
    """Python modules it needs in this interpreter."""
    ready_url: str | None = None
    """An HTTP URL that answers 200 once it serves (some listen before they are ready)."""
    stop_first: tuple[str, ...] = ()
    """Commands in its process group stopped before its leader (``java`` under ``gcloud``)."""
    env: dict[str, str] = field(default_factory=dict)
    log: bool = True
    """Output to ``<log dir>/<name>.log``; False: to this process's stdout and stderr."""
    cwd: Path | None = None
    """Where it runs (default: the log folder when it logs there)."""

    def missing(self) -> str | None:
        """Why it cannot run here (with the install command), or None."""
        absent = [name for name in self.modules if importlib.util.find_spec(name) is None]
        if self.binary and shutil.which(self.binary) is None:
            absent.insert(0, self.binary)
        if not absent:
            return None
        hint = f": {self.install}" if self.install else ""
        return f"{self.name} needs {', '.join(absent)}{hint}"


@dataclass
class Running:
    spec: Process
    proc: subprocess.Popen[bytes]
    log_path: Path | None
    started: float = field(default_factory=time.monotonic)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_bytes()[-LOG_TAIL:].decode(errors="replace")

    def failure(self, what: str) -> EmulatorError:
        hint = f" ({self.spec.install})" if self.spec.install else ""
        log = self.tail().strip()
        where = f"\n--- {self.log_path} ---\n{log}" if log else ""
        if self.log_path is None:
            where = " (its output is above)"
        return EmulatorError(f"{self.spec.name} {what}{hint}{where}")


def launch(spec: Process, log_dir: Path, base_env: dict[str, str] | None = None) -> Running:
    """Start ``spec`` in a process group of its own; does not wait for it (see :func:`ready`)."""
    env = {**(os.environ if base_env is None else base_env), **spec.env}
    file_name = re.sub(r"[^\w.-]+", "-", spec.name) + ".log"  # a name may hold spaces
    log_path = log_dir / file_name if spec.log else None
    output = open(log_path, "wb") if log_path else None  # noqa: SIM115 - the child keeps it
    try:
        proc = subprocess.Popen(spec.command, stdin=subprocess.DEVNULL, stdout=output,
                                stderr=subprocess.STDOUT if output else None, env=env,
                                cwd=spec.cwd or (log_dir if spec.log else None),
                                process_group=0)
    except OSError as exc:
        raise EmulatorError(f"cannot start {spec.name}: {exc}") from exc
    finally:
        if output is not None:
            output.close()
    return Running(spec, proc, log_path)


def ready(running: Running, timeout: float = READY_TIMEOUT,
          tick: Callable[[], None] = lambda: None) -> float:
    """Wait until ``running`` listens on its ports (and answers its ready URL); the seconds it
    took since launch. ``tick`` is called between checks (a signal may interrupt there)."""
    deadline = running.started + timeout
    pending = list(running.spec.ports)
    while pending or running.spec.ready_url:
        if not running.alive():
            raise running.failure(f"exited with {running.proc.returncode} before serving")
        if time.monotonic() > deadline:
            raise running.failure(f"did not serve within {timeout:.0f} s")
        if pending and _listening(pending[0]):
            pending.pop(0)
            continue
        if not pending and running.spec.ready_url and _answers(running.spec.ready_url):
            break
        tick()
        time.sleep(0.1)
    return time.monotonic() - running.started


def stop(running: Running, timeout: float = STOP_TIMEOUT, sig: int = signal.SIGTERM) -> None:
    """Stop the process and everything in its group; reap the leader. ``sig`` SIGKILL: kill
    the group at once (a crash, for tests of what survives one)."""
    group = running.proc.pid
    if sig == signal.SIGKILL:
        _signal_group(group, sig)
        running.proc.wait(timeout)
    if running.alive():
        first = group_members(group, running.spec.stop_first)
        for pid in first:
            _signal(pid, signal.SIGTERM)
        if first:
            with contextlib.suppress(subprocess.TimeoutExpired):
                running.proc.wait(timeout)
        _signal_group(group, signal.SIGTERM)
        try:
            running.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(group, signal.SIGKILL)
            running.proc.wait(timeout)
    deadline = time.monotonic() + timeout
    while group_members(group) and time.monotonic() < deadline:
        _signal_group(group, signal.SIGKILL)
        time.sleep(0.05)


def group_members(pgid: int, commands: tuple[str, ...] | None = None) -> list[int]:
    """Live processes of process group ``pgid`` (only those running one of ``commands`` when
    given). Reads Linux's /proc; elsewhere none are found and the group signal does the work."""
    found = []
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError):
            stat = stat_path.read_text()
            command = stat[stat.index("(") + 1:stat.rindex(")")]
            state, _parent, group = stat[stat.rindex(")") + 2:].split()[:3]
            if int(group) == pgid and state != "Z" and (
                    commands is None or command in commands):
                found.append(int(stat_path.parent.name))
    return found


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status) == 200
    except OSError:  # refused, reset, or an HTTP error status
        return False


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
