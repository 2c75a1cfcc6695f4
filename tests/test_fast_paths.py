"""The shortcuts taken for speed (tests/benchmarks) say exactly what the plain forms said.

Each test pins one shortcut to the slower form it replaced: the CloudEvent built without the
SDK's constructor, the lazy ``portable`` namespace, the guard around payload reading, the
direct read of S3 records, the GCS resource split, the SQS text check and the log line.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import re
import subprocess
import sys
from typing import Any

import pytest
from cloudevents.http import CloudEvent

import portable
from adapters.aws import _sqs
from adapters.aws import ingress as aws_ingress
from adapters.gcp._legacy import _storage
from portable import MalformedEventError, new_event
from portable._events import reading, to_json
from portable._logging import JsonFormatter, log, logger
from tests.conftest import fixture

ATTRIBUTES = {"id": "A-1", "source": "/orders", "type": "com.example.created",
              "subject": "orders/1", "time": "2024-05-01T10:00:00Z",
              "datacontenttype": "application/json", "traceparent": "00-abc-def-01"}


def test_new_event_equals_what_the_sdk_constructor_builds() -> None:
    data = {"order": 1}
    ours, sdk = new_event(ATTRIBUTES, data), CloudEvent(dict(ATTRIBUTES), data)
    assert ours == sdk and type(ours) is CloudEvent
    assert dict(ours.get_attributes()) == {**ATTRIBUTES, "specversion": "1.0"}
    assert json.loads(to_json(ours)) == json.loads(to_json(sdk))


def test_new_event_still_checks_every_attribute() -> None:
    with pytest.raises(MalformedEventError, match="missing required attribute.*source"):
        new_event({"id": "1", "type": "t"})
    with pytest.raises(MalformedEventError, match="invalid CloudEvent attribute name 'Bad'"):
        new_event({**ATTRIBUTES, "Bad": "x"})
    with pytest.raises(MalformedEventError, match="'subject' must be a string, not list"):
        new_event({**ATTRIBUTES, "subject": ["x"]})
    assert "subject" not in new_event({**ATTRIBUTES, "subject": None})


def test_portable_resolves_every_public_name_on_first_use() -> None:
    code = ("import sys, portable\nloaded = 'portable._pipeline' in sys.modules\n"
            "from portable import *\nprint(loaded, all(getattr(portable, n) is not None "
            "for n in portable.__all__), portable.storage.open.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "portable._objects"]
    with pytest.raises(AttributeError, match="no attribute 'Pipelines'"):
        portable.Pipelines  # noqa: B018 - the lookup is the test


def test_reading_turns_wrong_shapes_into_malformed_events() -> None:
    fields: dict[str, Any] = {}
    with pytest.raises(MalformedEventError, match=r"^SQS message 'm': a field has the wrong "
                                                  r"shape \(KeyError"), reading("SQS message 'm'"):
        fields["id"]
    with pytest.raises(MalformedEventError, match="^payload: no id$"), reading("payload"):
        raise MalformedEventError("no id")
    with pytest.raises(MalformedEventError, match="^no id$"), reading():
        raise MalformedEventError("no id")
    with pytest.raises(KeyboardInterrupt), reading("payload"):
        raise KeyboardInterrupt


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r["s3"]["bucket"].pop("name"), "has no s3.bucket.name"),
    (lambda r: r["s3"].pop("object"), "has no s3.object"),
    (lambda r: r["s3"]["object"].update(key=""), "field s3.object.key must be a non-empty string"),
    (lambda r: r["s3"]["object"].update(key=7), "field s3.object.key must be a non-empty string"),
    (lambda r: r.update(eventName=None), "has no eventName"),
    (lambda r: r.update(s3="text"), "has no s3.bucket"),
])
def test_s3_records_that_fail_the_direct_read_name_the_wrong_field(
        change: Any, message: str) -> None:
    payload = fixture("aws/s3_object_created_put.json")
    change(payload["Records"][0])
    with pytest.raises(MalformedEventError, match=re.escape(message)):
        aws_ingress.to_cloudevents(payload)


def test_s3_keys_are_decoded_whichever_way_they_are_read() -> None:
    payload = fixture("aws/s3_object_created_put.json")
    keys = {"plain/key.jpg": "plain/key.jpg", "my+photo.jpg": "my photo.jpg",
            "caf%C3%A9.txt": "café.txt"}
    for sent, decoded in keys.items():
        payload["Records"][0]["s3"]["object"]["key"] = sent
        assert aws_ingress.to_cloudevents(payload)[0]["subject"] == decoded


def test_gcs_resource_split_matches_the_single_regex_it_replaces() -> None:
    lazy = re.compile(r"^(projects/[^/]+/buckets/[^/]+)/(objects/.+?)(?:#\d+)?$")
    parts = ["a", "#", "1", "/", "\n", "x#", "#12", "b#3"]
    for length in range(1, 5):
        for combo in itertools.product(parts, repeat=length):
            name = "projects/_/buckets/b/objects/" + "".join(combo)
            match = lazy.match(name)
            try:
                split = _storage(name, {}, "id", None)[:2]
            except MalformedEventError:
                split = None
            assert split == (match.groups() if match else None), name


def test_sqs_text_check_matches_the_allowed_character_ranges() -> None:
    allowed = re.compile("^[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]+$")
    edges = [0x0, 0x8, 0x9, 0xA, 0xB, 0xC, 0xD, 0xE, 0x1F, 0x20, 0x7F, 0xD7FF, 0xD800, 0xDFFF,
             0xE000, 0xFFFD, 0xFFFE, 0xFFFF, 0x10000, 0x10FFFF]
    for code in edges:
        text = f"a{chr(code)}b"
        assert _sqs.valid_text(text) == bool(allowed.match(text)), hex(code)


def test_log_lines_keep_their_fields_and_name_this_module(
        monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    monkeypatch.setattr(logger, "handlers", [handler])
    monkeypatch.setattr(logger, "level", logging.INFO)
    records: list[logging.LogRecord] = []
    monkeypatch.setattr(handler, "filter", lambda record: records.append(record) or True)
    log(logging.INFO, "processed", event_id="e1", attempt=2, error=None, duration_ms=1.5)
    log(logging.DEBUG, "not written", event_id="e2")
    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert {k: entry[k] for k in ("level", "logger", "message", "event_id", "attempt",
                                  "duration_ms")} == {
        "level": "info", "logger": "portable", "message": "processed", "event_id": "e1",
        "attempt": 2, "duration_ms": 1.5}
    assert "error" not in entry and entry["time"].endswith("Z")
    assert records[0].pathname.endswith("_logging.py") and records[0].funcName == "log"
