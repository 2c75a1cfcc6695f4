"""`portable serve`: a handler behind a real functions-framework server, over real HTTP."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from portable._sqlite import SQLiteSink
from tests.emulators import free_port, start, stop

HANDLER = """
from portable import App, PermanentError

app = App("served")
calls = open(__import__("os").environ["CALLS_FILE"], "a")

@app.on("com.example.*")
def handle(event):
    calls.write(event["id"] + "\\n"); calls.flush()
    if event.data == {"fail": True}:
        raise PermanentError("asked to fail")
    if event.get("subject"):
        return {"subject": event["subject"]}
    return {"echo": event.data}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("serve")
    (root / "served_handler.py").write_text(HANDLER)
    calls = root / "calls.txt"
    dlq = root / "dlq.db"
    port = free_port()
    proc = start(
        [
            sys.executable,
            "-m",
            "portable",
            "serve",
            "served_handler:app",
            "--port",
            str(port),
            "--max-body",
            "2048",
        ],
        port,
        what="portable serve",
        env={
            "PYTHONPATH": str(root),
            "CALLS_FILE": str(calls),
            "PORTABLE_STORE": f"sqlite:///{root / 'store.db'}",
            "PORTABLE_DLQ": f"sqlite:///{dlq}",
        },
        cwd=root,
    )
    yield {"url": f"http://127.0.0.1:{port}/", "calls": calls, "dlq": dlq, "proc": proc}
    stop(proc)


def calls(server: dict[str, Any]) -> list[str]:
    return server["calls"].read_text().split() if server["calls"].exists() else []


def binary(server: dict[str, Any], event_id: str, data: Any) -> requests.Response:
    return requests.post(
        server["url"],
        data=json.dumps(data),
        timeout=10,
        headers={
            "ce-specversion": "1.0",
            "ce-id": event_id,
            "ce-source": "/t",
            "ce-type": "com.example.thing",
            "Content-Type": "application/json",
        },
    )


def test_binary_mode_event_reaches_the_handler_once(server: dict[str, Any]) -> None:
    first = binary(server, "bin-1", {"a": 1})
    assert first.status_code == 200
    assert first.json()["results"] == [
        {"id": "bin-1", "outcome": "processed", "attempt": 1, "result": {"echo": {"a": 1}}}
    ]
    again = binary(server, "bin-1", {"a": 1})
    assert again.json()["results"][0]["outcome"] == "duplicate"
    assert calls(server).count("bin-1") == 1


def test_structured_mode_and_batches(server: dict[str, Any]) -> None:
    event = {
        "specversion": "1.0",
        "id": "st-1",
        "source": "/t",
        "type": "com.example.thing",
        "data": [1, 2],
    }
    response = requests.post(
        server["url"],
        data=json.dumps(event),
        timeout=10,
        headers={"Content-Type": "application/cloudevents+json; charset=utf-8"},
    )
    assert response.status_code == 200 and response.json()["results"][0]["result"] == {
        "echo": [1, 2]
    }
    batch = [{**event, "id": "st-2"}, {**event, "id": "st-3"}]
    response = requests.post(
        server["url"],
        data=json.dumps(batch),
        timeout=10,
        headers={"Content-Type": "application/cloudevents-batch+json"},
    )
    assert [r["outcome"] for r in response.json()["results"]] == ["processed", "processed"]


def test_failing_event_lands_in_the_dead_letter_file(server: dict[str, Any]) -> None:
    response = binary(server, "fail-1", {"fail": True})
    assert response.status_code == 200
    assert response.json()["results"][0]["outcome"] == "dead_lettered"
    letters = [
        lt
        for lt in SQLiteSink(f"sqlite:///{server['dlq']}").list()
        if lt.event and lt.event["id"] == "fail-1"
    ]
    assert len(letters) == 1 and letters[0].error["message"] == "asked to fail"


@pytest.mark.parametrize(
    "headers,body,status,message",
    [
        ({"ce-specversion": "1.0", "ce-id": "x", "ce-source": "/t"}, b"{}", 400, "type"),
        (
            {"ce-specversion": "0.3", "ce-id": "x", "ce-source": "/t", "ce-type": "com.example.a"},
            b"{}",
            400,
            "specversion",
        ),
        ({"Content-Type": "application/cloudevents+json"}, b"{not json", 400, "not valid JSON"),
        (
            {"Content-Type": "application/cloudevents+json"},
            json.dumps({"specversion": "1.0", "id": "1"}).encode(),
            400,
            "source, type",
        ),
        ({"Content-Type": "application/json"}, b'{"hello": "world"}', 400, "no adapter recognises"),
        ({"Content-Type": "application/json"}, b"", 400, "empty request body"),
        ({"Content-Type": "application/cloudevents+json"}, b" " * 4096, 413, "limit"),
    ],
)
def test_bad_input_gets_a_4xx_naming_the_problem(
    server: dict[str, Any], headers: dict[str, str], body: bytes, status: int, message: str
) -> None:
    before = calls(server)
    response = requests.post(server["url"], data=body, headers=headers, timeout=10)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert calls(server) == before  # never reached the handler
    assert server["proc"].poll() is None  # and the server is still up


def test_only_post_is_accepted(server: dict[str, Any]) -> None:
    assert requests.get(server["url"], timeout=10).status_code == 405


def test_a_bad_target_is_refused_before_serving(tmp_path: Path) -> None:
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "portable", "serve", "no_such_module:handle"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode != 0 and "cannot import 'no_such_module'" in result.stderr


def test_percent_encoded_header_values_are_decoded(server: dict[str, Any]) -> None:
    response = requests.post(
        server["url"],
        data=b'"x"',
        timeout=10,
        headers={
            "ce-specversion": "1.0",
            "ce-id": "pct-1",
            "ce-source": "/t",
            "ce-type": "com.example.thing",
            "ce-subject": "caf%C3%A9%20menu",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 200
    assert response.json()["results"][0]["result"] == {"subject": "café menu"}


@pytest.mark.parametrize(
    "fixture_name,event_id",
    [
        (
            "aws/s3_object_created_put_docs.json",
            "C3D13FE58DE4C810.FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/"
            "JRWeUWerMUE5JgHvANOjpD.0055AED6DCD90281E5",
        ),
        ("azure/eventgrid_blob_created.json", None),
        ("gcp/pubsub_push_envelope.json", None),
    ],
)
def test_raw_provider_payloads_are_converted_by_their_adapter(
    server: dict[str, Any], fixture_name: str, event_id: str | None
) -> None:
    from tests.conftest import fixture

    payload = fixture(fixture_name)
    response = requests.post(server["url"], json=payload, timeout=10)
    assert response.status_code in (200, 503)
    results = response.json()["results"]
    assert results and all(r["outcome"] in ("processed", "dead_lettered") for r in results)
    if event_id:
        assert results[0]["id"] == event_id


def test_s3_test_event_reaches_no_handler(server: dict[str, Any]) -> None:
    from tests.conftest import fixture

    before = calls(server)
    response = requests.post(server["url"], json=fixture("aws/s3_test_event.json"), timeout=10)
    assert response.status_code == 200 and response.json()["results"] == []
    assert calls(server) == before
