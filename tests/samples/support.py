"""What the sample tests share: a sample's deployment wrappers loaded afresh (each builds its
pipeline from the environment at import, as on a cold start), the GCP entries served by
functions-framework in this process, and the request shapes Eventarc and Pub/Sub push send."""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
import uuid
from types import ModuleType
from typing import Any

import pytest
from cloudevents.http import CloudEvent

from portable._events import to_binary
from tests.conftest import REPO

SAMPLES = REPO / "samples"


def wrapper(sample: str, provider: str, monkeypatch: pytest.MonkeyPatch,
            **environment: str) -> ModuleType:
    """``samples/<sample>/<provider>/{app,function_app,main}.py`` executed afresh, with
    ``environment`` set (``PORTABLE_STORE`` and ``PORTABLE_DLQ`` default to memory)."""
    for name, value in {"PORTABLE_STORE": "memory://", "PORTABLE_DLQ": "memory://",
                        **environment}.items():
        monkeypatch.setenv(name, value)
    path = SAMPLES / sample / provider / ENTRY_FILES[provider]
    spec = importlib.util.spec_from_file_location(f"{sample}_{provider}_{uuid.uuid4().hex}",
                                                  path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ENTRY_FILES = {"aws": "app.py", "azure": "function_app.py", "gcp": "main.py"}


def served(sample: str, target: str, monkeypatch: pytest.MonkeyPatch,
           **environment: str) -> Any:
    """A flask test client of functions-framework serving ``target`` of the sample's
    ``gcp/main.py``: ``main`` with the cloudevent signature (an event trigger), ``push`` with
    the http one, as ``gcloud functions deploy`` sets them."""
    import functions_framework

    for name, value in {"PORTABLE_STORE": "memory://", "PORTABLE_DLQ": "memory://",
                        **environment}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "path", list(sys.path))  # create_app appends the source folder
    monkeypatch.setitem(sys.modules, "main", sys.modules.get("main"))  # and loads "main"
    app = functions_framework.create_app(  # type: ignore[no-untyped-call]
        target=target, source=str(SAMPLES / sample / "gcp" / "main.py"),
        signature_type="cloudevent" if target == "main" else "http")
    return app.test_client()


def eventarc(client: Any, event: CloudEvent) -> Any:
    """POST ``event`` as Eventarc does: binary mode, ``ce-*`` headers."""
    headers, data = to_binary(event)
    return client.post("/", headers=headers, data=data or b"")


def push(client: Any, data: bytes, attributes: dict[str, str], *, attempt: int = 1,
         message_id: str | None = None) -> Any:
    """POST a Pub/Sub push request (a subscription with a dead-letter policy numbers
    its deliveries)."""
    body = {"message": {"data": base64.b64encode(data).decode(), "attributes": attributes,
                        "messageId": message_id or uuid.uuid4().hex[:16],
                        "publishTime": "2026-05-01T10:00:00.000Z"},
            "subscription": "projects/portable-test/subscriptions/push",
            "deliveryAttempt": attempt}
    return client.post("/", json=body)


def gcs_notification(resource: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """(data, attributes) of the OBJECT_FINALIZE notification of an object resource."""
    return json.dumps(resource).encode(), {
        "eventType": "OBJECT_FINALIZE", "payloadFormat": "JSON_API_V1",
        "bucketId": resource["bucket"], "objectId": resource["name"],
        "objectGeneration": str(resource["generation"]),
        "notificationConfig": f"projects/_/buckets/{resource['bucket']}/notificationConfigs/1"}


def finalized(resource: dict[str, Any]) -> CloudEvent:
    """The Eventarc ``finalized`` CloudEvent of an object resource (Google's attributes)."""
    from portable import new_event

    return new_event({
        "id": f"{resource['generation']}-{uuid.uuid4().hex[:6]}",
        "source": f"//storage.googleapis.com/projects/_/buckets/{resource['bucket']}",
        "type": "google.cloud.storage.object.v1.finalized",
        "subject": f"objects/{resource['name']}", "time": resource.get("updated"),
        "datacontenttype": "application/json"}, resource)
