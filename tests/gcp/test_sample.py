"""The hello sample on Google Cloud: its entries serve the sample's handler under
functions-framework, and deploy.sh agrees with the code it deploys (the entry points, the
store and sink URLs, the sink's subscription, the dead-letter policy, the TTL field)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import functions_framework
import pytest

from adapters.gcp.dlq import SUBSCRIPTION_SUFFIX, PubSubSink
from adapters.gcp.store import FirestoreStore
from portable._serve import load_target
from tests.conftest import REPO

SAMPLE = REPO / "samples" / "hello" / "gcp"
DEPLOY = (SAMPLE / "deploy.sh").read_text()


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


def test_the_entry_points_deploy_sh_names_are_the_samples_entries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PORTABLE_STORE", "memory://")
    monkeypatch.setenv("PORTABLE_DLQ", "memory://")
    entries = re.findall(r"^\s*deploy hello-\S+ (\w+) --trigger", DEPLOY, re.MULTILINE)
    assert sorted(entries) == ["main", "push"]
    for entry in entries:
        assert callable(load_target(f"samples.hello.gcp.main:{entry}"))


def setting(name: str) -> str:
    found = re.search(rf'^{name}="\$\{{{name}:-([^}}]+)\}}"', DEPLOY, re.MULTILINE)
    assert found, name
    return found.group(1)


def test_the_urls_deploy_sh_sets_are_the_store_and_sink_it_creates() -> None:
    store = FirestoreStore.from_url(f"firestore://{setting('COLLECTION')}")
    assert 'ttls update purge_at --collection-group "$COLLECTION"' in DEPLOY
    assert store.collection == "hello-idempotency"
    sink = PubSubSink.from_url(f"pubsub://projects/my-project/topics/{setting('DEAD_LETTERS')}")
    assert sink.subscription.endswith(f"/{setting('DEAD_LETTERS')}{SUBSCRIPTION_SUFFIX}")
    assert f'subscriptions create "$DEAD_LETTERS{SUBSCRIPTION_SUFFIX}"' in DEPLOY
    assert 'PORTABLE_STORE=firestore://$COLLECTION"' in DEPLOY
    assert 'PORTABLE_DLQ=pubsub://projects/$PROJECT/topics/$DEAD_LETTERS"' in DEPLOY


def test_the_dead_letter_policy_and_the_push_entry_count_the_same_attempts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PORTABLE_STORE", "memory://")
    monkeypatch.setenv("PORTABLE_DLQ", "memory://")
    from samples.hello.gcp import main

    assert f"MAX_DELIVERY_ATTEMPTS={main.MAX_DELIVERY_ATTEMPTS}" in DEPLOY
    assert '--max-delivery-attempts "$MAX_DELIVERY_ATTEMPTS"' in DEPLOY
    assert '--dead-letter-topic "$DEAD_LETTERS"' in DEPLOY
