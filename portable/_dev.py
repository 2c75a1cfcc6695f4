"""``portable dev``: a served handler wired to live event sources on this machine.

The handler runs under ``portable serve`` (the real functions-framework server) in a child
process; each source turns what happens into CloudEvents and delivers them over HTTP, and
every delivery is printed as it happens (provider, type, subject, outcome, attempt). Ctrl-C
(SIGINT) or SIGTERM stops everything this command started.

Sources: ``--folder PATH``, the local provider (portable._local): files dropped in, changed or
removed become storage CloudEvents.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from types import FrameType
from typing import Any

from cloudevents.http import CloudEvent

from ._events import to_json
from ._local import FolderWatcher
from ._net import free_port, wait_for_port

Echo = Callable[[str], Any]


class Stop(Exception):
    """SIGINT/SIGTERM arrived."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def run(target: str, folder: str, *, port: int | None = None, interval: float = 0.5,
        echo: Echo = print) -> int:
    watcher = FolderWatcher(folder)
    port = port or free_port()
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    server: subprocess.Popen[bytes] | None = None
    try:
        echo(f"starting {target} under functions-framework on http://127.0.0.1:{port} ...")
        server = subprocess.Popen([sys.executable, "-m", "portable", "serve", target,
                                   "--port", str(port)], env=dict(os.environ))
        if not wait_for_port(port, server):
            echo("the handler's server did not start (see its output above)")
            return 1
        echo(f"watching {watcher.folder} (every {interval}s); Ctrl-C stops")
        dlq = os.environ.get("PORTABLE_DLQ", "the local file .portable/dead-letters.db")
        echo(f"dead letters: {dlq}")
        while True:
            for event in watcher.poll():
                echo(_deliver(port, "local", event))
            time.sleep(interval)
    except Stop as stop:
        echo(f"{stop}: stopping")
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _deliver(port: int, provider: str, event: CloudEvent) -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/", data=to_json(event).encode("utf-8"), method="POST",
        headers={"Content-Type": "application/cloudevents+json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read() or b"{}")
    except OSError as exc:
        body = {"error": f"delivery failed: {exc}"}
    result = (body.get("results") or [{}])[0]
    outcome = result.get("outcome") or body.get("error", "?")
    detail = result.get("error", "")
    return (f"{provider:<6} {event['type']:<40} {event.get('subject', '')!s:<30} {outcome:<14} "
            f"attempt {result.get('attempt', '-')} {detail}").rstrip()
