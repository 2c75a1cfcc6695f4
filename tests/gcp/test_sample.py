"""The hello sample on Google Cloud: its entries serve the sample's handler under
functions-framework. (That deploy.sh agrees with the code it deploys, tests/samples/
test_gcp_deploy.py checks by running it against a fake gcloud.)"""

from __future__ import annotations

import base64
import json
from typing import Any

import functions_framework
import pytest

from tests.conftest import REPO

SAMPLE = REPO / "samples" / "hello" / "gcp"


def push_request(order: dict[str, Any], order_id: str) -> dict[str, Any]:
    """A Pub/Sub push request for an order CloudEvent published in binary mode."""
    attributes = {"ce-specversion": "1.0", "ce-id": order_id, "ce-source": "/orders",
                  "ce-type": "com.example.order.created", "content-type": "application/json"}
    return {"message": {"data": base64.b64encode(json.dumps(order).encode()).decode(),
                        "attributes": attributes, "messageId": "1",
                        "publishTime": "2026-11-28T20:13:44.271Z"},
            "subscription": "projects/p/subscriptions/hello-push", "deliveryAttempt": 1}


def test_the_push_entry_serves_the_samples_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTABLE_STORE", "memory://")
    monkeypatch.setenv("PORTABLE_DLQ", "memory://")
    app = functions_framework.create_app(  # type: ignore[no-untyped-call]
        target="push", source=str(SAMPLE / "main.py"))
    client = app.test_client()
    priced = client.post("/", json=push_request({"order_id": "o-1", "items": [
        {"price": 2.5, "quantity": 2}]}, "o-1"))
    assert (priced.status_code, priced.json) == (200, {"events": 1, "processed": 1})
    empty = client.post("/", json=push_request({"order_id": "o-2", "items": []}, "o-2"))
    assert (empty.status_code, empty.json) == (200, {"events": 1, "dead_lettered": 1})
