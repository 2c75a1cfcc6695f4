"""``portable demo``: the README's first command.

Serves a sample handler under the real functions-framework server (``portable serve``) with
the embedded defaults (a local SQLite idempotency store and dead-letter file, under
``.portable/demo/``), delivers a few CloudEvents over HTTP in binary and structured mode,
delivers one twice and one that fails, prints what happened and exits (1 if anything did not
happen as it should).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._net import free_port, wait_for_port

DEMO_DIR = Path(".portable") / "demo"


@dataclass
class Delivery:
    label: str
    mode: str
    headers: dict[str, str]
    body: bytes
    expect: str  # the outcome, or an HTTP status for refused requests


def _binary(label: str, attrs: dict[str, str], data: Any, expect: str) -> Delivery:
    headers = {f"ce-{k}": v for k, v in attrs.items()}
    headers["Content-Type"] = "application/json"
    return Delivery(label, "binary", headers, json.dumps(data).encode(), expect)


def _structured(label: str, event: dict[str, Any], expect: str) -> Delivery:
    return Delivery(
        label,
        "structured",
        {"Content-Type": "application/cloudevents+json"},
        json.dumps(event).encode(),
        expect,
    )


def deliveries() -> list[Delivery]:
    order = {
        "specversion": "1.0",
        "type": "com.example.order.created",
        "source": "/demo/shop",
        "id": "order-1001",
    }
    s3_record = {
        "eventSource": "aws:s3",
        "awsRegion": "eu-west-1",
        "eventName": "ObjectCreated:Put",
        "eventTime": "2026-11-28T12:00:00.000Z",
        "s3": {
            "bucket": {"name": "uploads"},
            "object": {
                "key": "photos/cat+1.jpg",
                "size": 2048,
                "eTag": "9b2cf535f27731c974343645a3985328",
                "sequencer": "0055AED6DCD90281E5",
            },
        },
    }
    gcs_object = {
        "bucket": "uploads",
        "name": "reports/q3.pdf",
        "size": "51200",
        "contentType": "application/pdf",
        "generation": "1700000000000001",
        "etag": "CAE=",
    }
    return [
        _binary(
            "order 1001",
            order,
            {"order_id": 1001, "items": [{"price": 9.5, "quantity": 2}]},
            "processed",
        ),
        _structured(
            "S3 upload",
            {
                "specversion": "1.0",
                "type": "com.amazonaws.s3.ObjectCreated:Put",
                "source": "aws:s3.eu-west-1.uploads",
                "id": "C3D13FE58DE4C810.demo.0055AED6DCD90281E5",
                "subject": "photos/cat 1.jpg",
                "time": "2026-11-28T12:00:00.000Z",
                "datacontenttype": "application/json",
                "data": s3_record,
            },
            "processed",
        ),
        _structured(
            "GCS upload",
            {
                "specversion": "1.0",
                "type": "google.cloud.storage.object.v1.finalized",
                "source": "//storage.googleapis.com/projects/_/buckets/uploads",
                "id": "1700000000000001",
                "subject": "objects/reports/q3.pdf",
                "time": "2026-11-28T12:01:00.000Z",
                "data": gcs_object,
            },
            "processed",
        ),
        _binary(
            "order 1001 again",
            order,
            {"order_id": 1001, "items": [{"price": 9.5, "quantity": 2}]},
            "duplicate",
        ),
        _binary(
            "order 1002 (no items)",
            {**order, "id": "order-1002"},
            {"order_id": 1002, "items": []},
            "dead_lettered",
        ),
        Delivery(
            "not a CloudEvent",
            "binary",
            {"ce-specversion": "1.0", "ce-id": "x", "Content-Type": "application/json"},
            b"{}",
            "400",
        ),
    ]


def run(target: str, echo: Callable[[str], Any] = print) -> int:
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir(parents=True)
    store = f"sqlite:///{DEMO_DIR / 'idempotency.db'}"
    dlq = f"sqlite:///{DEMO_DIR / 'dead-letters.db'}"
    port = free_port()
    env = {
        **os.environ,
        "PORTABLE_STORE": store,
        "PORTABLE_DLQ": dlq,
        "PORTABLE_LOG_LEVEL": os.environ.get("PORTABLE_LOG_LEVEL", "WARNING"),
    }
    log_path = DEMO_DIR / "server.log"
    echo(f"Serving {target} under functions-framework on http://127.0.0.1:{port} ...")
    with open(log_path, "wb") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "portable", "serve", target, "--port", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            if not wait_for_port(port, server):
                echo(f"the server did not start; see {log_path}:\n{log_path.read_text()}")
                return 1
            ok = _deliver_all(port, echo)
        finally:
            server.terminate()
            server.wait(15)
    ok = _show_dead_letters(dlq, echo) and ok
    echo(f"\nStore: {store}\nDead letters: {dlq}  (portable dlq list --dlq {dlq})")
    echo("Demo " + ("finished: every delivery did what it should." if ok else "FAILED: see above."))
    return 0 if ok else 1


def _deliver_all(port: int, echo: Callable[[str], Any]) -> bool:
    ok = True
    echo(f"\n{'delivery':<24} {'mode':<11} {'outcome':<15} detail")
    for delivery in deliveries():
        status, body = _post(port, delivery)
        if status == 200 or status == 503:
            result = body["results"][0]
            outcome = result["outcome"]
            detail = result.get("error") or json.dumps(result.get("result"))
        else:
            outcome, detail = str(status), body.get("error", "")
        ok = ok and outcome == delivery.expect
        mark = "" if outcome == delivery.expect else f"   <-- expected {delivery.expect}"
        echo(f"{delivery.label:<24} {delivery.mode:<11} {outcome:<15} {detail}{mark}")
    return ok


def _show_dead_letters(dlq: str, echo: Callable[[str], Any]) -> bool:
    from ._config import sink_from

    sink = sink_from(dlq)
    letters = sink.list()
    echo(f"\nDead letters in the local file ({len(letters)}):")
    for letter in letters:
        echo(f"  {letter.summary()}")
    sink.close()
    return len(letters) == 1


def _post(port: int, delivery: Delivery) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/", data=delivery.body, headers=delivery.headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
