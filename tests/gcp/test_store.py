"""The Firestore store beyond the shared store contract: its URL forms, keys Firestore would
not take as document ids, and the field a TTL policy cleans up by."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from adapters.gcp.store import CLEANUP_AFTER, FirestoreStore
from portable import ConfigurationError, Status
from portable._config import store_from
from tests.gcp.contract_backends import unique

T0 = 1_767_225_600.0


@pytest.fixture
def store(firestore_env: str) -> Iterator[FirestoreStore]:
    opened = FirestoreStore(unique("store"))
    yield opened
    opened.close()


@pytest.mark.parametrize(("url", "collection", "project", "database"), [
    ("firestore://idempotency", "idempotency", None, None),
    ("firestore://tenants/acme/idempotency", "tenants/acme/idempotency", None, None),
    ("firestore://idempotency?project=shop-prod&database=orders", "idempotency", "shop-prod",
     "orders"),
])
def test_url_forms(url: str, collection: str, project: str | None,
                   database: str | None) -> None:
    store = store_from(url)
    assert isinstance(store, FirestoreStore)
    assert (store.collection, store.project, store.database) == (collection, project, database)


@pytest.mark.parametrize("url", [
    "firestore://",
    "firestore://tenants/acme",  # a document, not a collection
    "firestore://idempotency?create=true",
])
def test_bad_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError, match="Firestore"):
        store_from(url)


@pytest.mark.parametrize("key", ["orders/2026/1", ".", "..", "__name__", "a b%2Fc", "ключ"])
def test_any_key_is_a_record_of_its_own(store: FirestoreStore, key: str) -> None:
    record = store.claim(key, "a", T0, T0 + 30, None)
    assert (record.key, record.token) == (key, "a")
    assert store.claim(key + "x", "b", T0, T0 + 30, None).token == "b"
    assert store.finish(key, "a", Status.COMPLETED, T0 + 3600, '"done"')
    assert store.claim(key, "c", T0 + 1, T0 + 31, None).result == '"done"'


def test_records_carry_the_time_a_ttl_policy_may_delete_them(store: FirestoreStore) -> None:
    store.claim("order-1", "a", T0, T0 + 30, None)
    store.finish("order-1", "a", Status.COMPLETED, T0 + 3600, "1")
    [document] = store._client.collection(store.collection).stream()
    fields = document.to_dict() or {}
    assert fields["purge_at"] == datetime.fromtimestamp(T0 + 3600 + CLEANUP_AFTER, UTC)
