"""``portable demo``: the README's first command, on embedded defaults only.

The upload pipeline sample (samples/upload) is served under the real functions-framework
server (``portable serve``), with a local SQLite idempotency store and dead-letter file under
``.portable/demo/``. Files are dropped into a watched folder (the local provider); their
storage CloudEvents are delivered over HTTP in structured and binary mode; one delivery is
repeated (at-least-once delivery: the handler runs once) and one file is bad (it lands in the
dead-letter file with its error). The demo prints what happened and exits, 1 if anything did
not happen as it should. No cloud and no emulator is needed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloudevents.http import CloudEvent

from . import _events
from ._local import FolderWatcher
from ._net import free_port, wait_for_port

DEMO_DIR = Path(".portable") / "demo"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
FILES = {"report.txt": b"quarterly figures\n" * 40, "logo": PNG, "empty.csv": b""}

Echo = Callable[[str], Any]


@dataclass
class Delivery:
    label: str
    mode: str
    event: CloudEvent
    expect: str


def plan(events: dict[str, CloudEvent]) -> list[Delivery]:
    """What the demo delivers: each file once, then the first again (a redelivery)."""
    return [
        Delivery("report.txt", "structured", events["report.txt"], "processed"),
        Delivery("logo", "binary", events["logo"], "processed"),
        Delivery("empty.csv", "structured", events["empty.csv"], "dead_lettered"),
        Delivery("report.txt again", "binary", events["report.txt"], "duplicate"),
    ]


def run(target: str, echo: Echo = print) -> int:
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    inbox = DEMO_DIR / "inbox"
    inbox.mkdir(parents=True)
    store = f"sqlite:///{DEMO_DIR / 'idempotency.db'}"
    dlq = f"sqlite:///{DEMO_DIR / 'dead-letters.db'}"
    env = {**os.environ, "PORTABLE_STORE": store, "PORTABLE_DLQ": dlq,
           "PORTABLE_LOG_LEVEL": os.environ.get("PORTABLE_LOG_LEVEL", "WARNING")}
    port = free_port()
    log_path = DEMO_DIR / "server.log"
    echo(f"Serving {target} under functions-framework on http://127.0.0.1:{port} ...")
    with open(log_path, "wb") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "portable", "serve", target, "--port", str(port)],
            stdout=log_file, stderr=subprocess.STDOUT, env=env)
        try:
            if not wait_for_port(port, server):
                echo(f"the server did not start; see {log_path}:\n{log_path.read_text()}")
                return 1
            events = _drop_files(inbox, echo)
            ok = _deliver_all(port, plan(events), echo)
        finally:
            server.terminate()
            server.wait(15)
    ok = _show_manifests(inbox, echo) and ok
    ok = _show_dead_letters(dlq, echo) and ok
    echo(f"\nStore: {store}\nDead letters: {dlq}   (portable dlq list --dlq {dlq})")
    echo("Demo " + ("finished: every delivery did what it should." if ok else "FAILED: see above."))
    return 0 if ok else 1


def _drop_files(inbox: Path, echo: Echo, timeout: float = 10.0) -> dict[str, CloudEvent]:
    """Write the files into the watched folder and collect their storage events."""
    watcher = FolderWatcher(inbox)
    for name, content in FILES.items():
        (inbox / name).write_bytes(content)
    echo(f"Dropped {', '.join(FILES)} into {inbox}")
    events: dict[str, CloudEvent] = {}
    deadline = time.monotonic() + timeout
    while len(events) < len(FILES) and time.monotonic() < deadline:
        events.update({str(e["subject"]): e for e in watcher.poll()})
        time.sleep(0.05)
    return events


def _deliver_all(port: int, deliveries: list[Delivery], echo: Echo) -> bool:
    ok = True
    echo(f"\n{'delivery':<18} {'mode':<11} {'outcome':<14} detail")
    for delivery in deliveries:
        result = _post(port, delivery)
        outcome = result.get("outcome", "?")
        value = result.get("result") or {}
        detail = result.get("error") or (
            f"{value.get('content_type')}, {value.get('size')} bytes, "
            f"sha256 {str(value.get('sha256'))[:12]}..." if value else "")
        expected = outcome == delivery.expect
        ok = ok and expected
        mark = "" if expected else f"   <-- expected {delivery.expect}"
        echo(f"{delivery.label:<18} {delivery.mode:<11} {outcome:<14} {detail}{mark}")
    return ok


def _post(port: int, delivery: Delivery) -> dict[str, Any]:
    if delivery.mode == "binary":
        headers, body = _events.to_binary(delivery.event)
        body = body or b""
    else:
        headers = {"Content-Type": "application/cloudevents+json"}
        body = _events.to_json(delivery.event).encode("utf-8")
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", data=body, headers=headers,
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        answer = json.loads(exc.read() or b"{}")
    results = answer.get("results") or [{"outcome": "refused", "error": answer.get("error")}]
    return dict(results[0])


def _show_manifests(inbox: Path, echo: Echo) -> bool:
    manifests = sorted(inbox.glob("*.manifest.json"))
    echo(f"\nManifests written next to the uploads ({len(manifests)}):")
    for path in manifests:
        manifest = json.loads(path.read_text())
        echo(f"  {path.name}: {manifest['content_type']}, {manifest['size']} bytes")
    return len(manifests) == 2


def _show_dead_letters(dlq: str, echo: Echo) -> bool:
    from ._config import sink_from

    sink = sink_from(dlq)
    letters = sink.list()
    echo(f"\nDead letters in the local file ({len(letters)}):")
    for letter in letters:
        echo(f"  {letter.summary()}")
    sink.close()
    return len(letters) == 1
