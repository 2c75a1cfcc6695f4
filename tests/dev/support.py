"""``portable dev`` run by a test as a user runs it: a subprocess in a session of its own,
its output read line by line, stopped with SIGINT, and every process of its session gone
afterwards (emulators, their children, the served handler)."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

# The settings that would point `portable dev` at emulators already running, or elsewhere.
SETTINGS = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
            "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION", "AzureWebJobsStorage",
            "PUBSUB_EMULATOR_HOST", "STORAGE_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST",
            "GOOGLE_CLOUD_PROJECT", "PORTABLE_STORE", "PORTABLE_DLQ")

HANDLER = '''
"""The handler under test: a marker beside each uploaded object, a file per message."""
import json, os
from pathlib import Path

import portable
from portable import NotAStorageEvent, PermanentError, RetryableError, storage


def handle(event):
    try:
        obj = storage.object_event(event)
    except NotAStorageEvent:
        return message(event)
    if obj.key.startswith("done/"):
        return "marker"
    if obj.key.startswith("bad/"):
        raise PermanentError(f"refused {obj.key}")
    if obj.action == storage.CREATED:
        marker = obj.url.replace(f"/{obj.bucket}/", f"/{obj.bucket}/done/", 1)
        storage.write(marker, json.dumps({"key": obj.key, "size": obj.size, "type": event["type"],
                                          "content": storage.read(obj).decode()}))
    return {"key": obj.key, "action": obj.action}


def message(event):
    data = event.get_data()
    attempt = portable.context().attempt
    if isinstance(data, dict) and data.get("flaky") and attempt == 1:
        raise RetryableError("busy, try again")
    out = Path(os.environ["MARKERS"]) / f"{event['id']}.json"
    out.write_text(json.dumps({"type": event["type"], "data": data, "attempt": attempt}))
    return "noted"
'''


class DevRun:
    """``portable dev devhandler:handle FLAGS`` in ``workdir``."""

    def __init__(self, workdir: Path, *flags: str, env: dict[str, str] | None = None) -> None:
        (workdir / "devhandler.py").write_text(HANDLER)
        self.markers = workdir / "markers"
        self.markers.mkdir()
        self.dead_letters = f"sqlite:///{workdir / 'dead-letters.db'}"
        clean = {name: value for name, value in os.environ.items() if name not in SETTINGS}
        clean.update(MARKERS=str(self.markers), PORTABLE_DLQ=self.dead_letters, **(env or {}))
        self.lines: list[str] = []
        self.closed = False
        self._seen = threading.Condition()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "portable", "dev", "devhandler:handle", *flags,
             "--interval", "0.2"],
            cwd=workdir, env=clean, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._seen:
                self.lines.append(line.rstrip("\n"))
                self._seen.notify_all()
        with self._seen:
            self.closed = True
            self._seen.notify_all()

    def wait_for(self, *needles: str, timeout: float = 30.0) -> str:
        """The first line holding every needle (waiting for it)."""
        deadline = time.monotonic() + timeout
        with self._seen:
            while True:
                for line in self.lines:
                    if all(needle in line for needle in needles):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise AssertionError(f"no line with {needles}; output:\n{self.output()}")
                self._seen.wait(min(left, 0.5))

    def output(self) -> str:
        return "\n".join(self.lines)

    def settings(self) -> dict[str, str]:
        """The variables of the ``export`` lines it printed."""
        found: dict[str, str] = {}
        for line in self.lines:
            if " export " in line:
                for word in shlex.split(line.split(" export ", 1)[1]):
                    name, _, value = word.partition("=")
                    found[name] = value
        return found

    def ready(self, timeout: float = 60.0) -> dict[str, str]:
        self.wait_for("ready: every delivery is printed below", timeout=timeout)
        return self.settings()

    def stop(self, sig: int = signal.SIGINT) -> int:
        """SIGINT (Ctrl-C) or SIGTERM; the exit code. Fails if anything of its session is
        left."""
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(30)
        finally:
            self.kill()
        leftover = wait_until_gone(self.proc.pid)
        assert not leftover, f"left behind: {leftover}\n{self.output()}"
        return code

    def kill(self) -> None:
        """Whatever is left of the session, for a test that failed half-way."""
        for pid in session_members(self.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def session_members(sid: int) -> dict[int, str]:
    """pid -> command line of every process (zombies included) in session ``sid``."""
    found = {}
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError):
            stat = stat_path.read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[3]) == sid:
                cmdline = (stat_path.parent / "cmdline").read_bytes().replace(b"\0", b" ")
                found[int(stat_path.parent.name)] = f"[{fields[0]}] {cmdline.decode()[:120]}"
    return found


def wait_until_gone(sid: int, timeout: float = 5.0) -> dict[int, str]:
    """The session's processes still there after ``timeout`` (orphans take a moment to be
    reaped)."""
    deadline = time.monotonic() + timeout
    while (left := session_members(sid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def eventually(check: Any, what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"not within {timeout:.0f} s: {what}"
        time.sleep(0.1)
    return value
