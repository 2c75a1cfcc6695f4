"""The DynamoDB store beyond the shared contract (tests/contract runs every rule and the race on
it): its URL, the table ``?create=true`` makes, the TTL attribute, and the errors a user sees."""

from __future__ import annotations

import math
from typing import Any

import pytest

from adapters.aws.store import CLEANUP_AFTER, DynamoDBStore, parse_url
from portable import ConfigurationError, Pipeline, StoreUnavailable, new_event
from tests.aws.emulator import MotoServer
from tests.emulators import free_port


@pytest.mark.parametrize(("url", "parsed"), [
    ("dynamodb://orders", ("orders", False, None)),
    ("dynamodb://orders.idempotency-v2?create=true", ("orders.idempotency-v2", True, None)),
    ("dynamodb://orders?region=eu-west-1", ("orders", False, "eu-west-1")),
])
def test_store_urls(url: str, parsed: tuple[str, bool, str | None]) -> None:
    assert parse_url(url) == parsed


@pytest.mark.parametrize("url", ["dynamodb://", "dynamodb://ab", "dynamodb://bad name",
                                 "redis://orders"])
def test_bad_store_urls_say_what_is_expected(url: str) -> None:
    with pytest.raises(ConfigurationError, match="dynamodb://table"):
        parse_url(url)


def test_create_makes_an_on_demand_table_with_ttl(moto_server: MotoServer, boto: Any,
                                                  unique: Any) -> None:
    name = unique("orders")
    DynamoDBStore.from_url(f"dynamodb://{name}?create=true")
    DynamoDBStore.from_url(f"dynamodb://{name}?create=true")  # a second instance: no error
    dynamodb = boto("dynamodb")
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "ttl")


def test_items_expire_for_dynamodb_a_day_after_the_record(moto_server: MotoServer, boto: Any,
                                                          unique: Any) -> None:
    name = unique("orders")
    store = DynamoDBStore.from_url(f"dynamodb://{name}?create=true")
    record = store.claim("k", "a", 1000.5, 1030.25, None)
    store.slot_set("breaker", "open", ttl=60)
    items = {item["pk"]["S"]: item for item in boto("dynamodb").scan(TableName=name)["Items"]}
    assert items["rec#k"]["ttl"] == {"N": str(math.ceil(record.expires_at + CLEANUP_AFTER))}
    assert float(items["slot#breaker"]["ttl"]["N"]) > float(
        items["slot#breaker"]["expires_at"]["N"]) + CLEANUP_AFTER - 1


def test_a_missing_table_stops_the_function_with_a_message_that_names_it(
    moto_server: MotoServer, unique: Any
) -> None:
    name = unique("missing")
    pipeline = Pipeline(lambda event: None, store=f"dynamodb://{name}", dlq="memory://")
    with pytest.raises(ConfigurationError, match=name):
        pipeline.process(new_event({"id": "1", "source": "/s", "type": "t"}))


def test_an_unreachable_endpoint_is_store_unavailable(monkeypatch: pytest.MonkeyPatch,
                                                      moto_server: MotoServer) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    store = DynamoDBStore.from_url("dynamodb://orders")
    with pytest.raises(StoreUnavailable, match="DynamoDB table 'orders' unavailable"):
        store.claim("k", "a", 1.0, 2.0, None)
