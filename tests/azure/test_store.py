"""The Azure Table store beyond the shared contract (tests/contract runs that on Azurite):
cleaning old records, URLs and connection settings, and what a user sees when it is wrong."""

from __future__ import annotations

import pytest

from adapters.azure._storage import service_client
from adapters.azure.store import TableStore
from portable import ConfigurationError, Status, StoreUnavailable
from tests.azure.contract_backends import Azurite, unique

T0 = 1_000_000.0


def test_purge_expired_deletes_what_no_claim_needs_and_keeps_the_rest(
        azurite_env: Azurite) -> None:
    store = TableStore(unique("t"), create=True)
    for key, status in (("done", Status.COMPLETED), ("dead", Status.DEAD_LETTERED),
                        ("released", Status.RELEASED), ("fresh", Status.COMPLETED)):
        store.claim(key, "a", T0, T0 + 30, None)
        store.finish(key, "a", status, T0 + (7200 if key == "fresh" else 60))
    store.claim("running", "a", T0, T0 + 30, None)  # a live lease
    store.claim("crashed", "a", T0 - 90_000, T0 - 89_000, None)  # lease ended a day ago
    store.slot_set("breaker", "open", ttl=-1)

    assert store.purge_expired(now=T0 + 3600) == 4  # done, dead, released, crashed
    survivors = {key: store.claim(key, "probe", T0 + 3600, T0 + 3700, None)
                 for key in ("fresh", "running", "done")}
    assert survivors["fresh"].token == "a"  # still within its TTL: untouched
    assert (survivors["running"].token, survivors["running"].attempts) == ("probe", 2)
    assert (survivors["done"].token, survivors["done"].attempts) == ("probe", 1)  # was gone
    # Slots expire by the clock: a purge now also takes the expired slot (and the records,
    # whose times above are long past).
    assert store.purge_expired() == 4  # fresh, running, done, the slot
    assert store.claim("fresh", "b", T0, T0 + 30, None).attempts == 1


def test_urls_name_the_table_and_the_connection_setting() -> None:
    store = TableStore.from_url("azuretable://idempotency?create=true&connection=OrdersStorage")
    assert (store.table, store.connection) == ("idempotency", "OrdersStorage")
    with pytest.raises(ConfigurationError, match="not a valid table name"):
        TableStore.from_url("azuretable://my-table")
    with pytest.raises(ConfigurationError, match="unknown option.*ttl"):
        TableStore.from_url("azuretable://idempotency?ttl=5")


def test_a_missing_table_is_a_configuration_error_not_an_outage(azurite_env: Azurite) -> None:
    store = TableStore(unique("missing"))
    with pytest.raises(ConfigurationError, match="TableNotFound.*create=true"):
        store.claim("k", "a", T0, T0 + 30, None)


def test_no_storage_setting_names_the_settings_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    with pytest.raises(ConfigurationError, match="AzureWebJobsStorage__accountName"):
        TableStore("idempotency").claim("k", "a", T0, T0 + 30, None)


def test_development_storage_and_identity_based_settings_reach_the_right_endpoints(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """(azure-identity comes with the azure extra, through the blob SDK-type bindings.)"""
    monkeypatch.setenv("Dev", "UseDevelopmentStorage=true")
    assert service_client("queue", "Dev").url.startswith("http://127.0.0.1:10001/devstoreaccount1")
    monkeypatch.delenv("Prod", raising=False)
    monkeypatch.setenv("Prod__accountName", "acct")
    assert service_client("table", "Prod").url.startswith("https://acct.table.core.windows.net")
    monkeypatch.setenv("Prod__blobServiceUri", "https://blobs.example.net")
    assert service_client("blob", "Prod").url.startswith("https://blobs.example.net")


def test_an_unreachable_account_is_store_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.emulators import free_port

    port = free_port()
    monkeypatch.setenv("AzureWebJobsStorage",
                       Azurite(ports={"blob": port, "queue": port, "table": port}
                               ).connection_string)
    with pytest.raises(StoreUnavailable, match="claim"):
        TableStore("idempotency").claim("k", "a", T0, T0 + 30, None)
