"""DynamoDB idempotency store: ``dynamodb://table`` (``?create=true``, ``?region=``).

One item per event key (``pk`` = ``rec#<key>``) and per slot (``slot#<name>``). The claim rule
(:func:`portable._store.next_record`) is one conditional UpdateItem: DynamoDB checks the
condition and writes atomically, and its ``now`` is the caller's, so expiry is decided inside the
write. An update expression cannot branch, so the rule is split into two disjoint conditions,
each a single write:

- *carry* (``attempts + 1``, ``first_seen`` kept): the item is absent (``if_not_exists`` starts
  the count at 1), or RELEASED and live, or an IN_PROGRESS lease that has expired;
- *fresh* (``attempts = 1``, ``first_seen = now``): any other record past its ``expires_at``.

A claim tries *carry*; when its condition fails, DynamoDB returns the record as it stands
(``ReturnValuesOnConditionCheckFailure=ALL_OLD``): live, it is the answer; past its TTL, the
claim tries *fresh* (a second request only for events redelivered after their TTL). Whichever
write succeeds decides the claim, so no read ever does. A claim that finds its own token (boto3
retried a write whose answer was lost) has won.

``ttl`` (epoch seconds, a day after ``expires_at``) lets DynamoDB's Time to Live delete old
items; it may do so days late and correctness never depends on it. ``?create=true`` creates the
table (on-demand capacity, ``pk`` string key, TTL on ``ttl``) when it does not exist; in
production the SAM template declares it. Throttling and outages raise StoreUnavailable; a
missing table or denied access raise ConfigurationError.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from portable._config import backend_url
from portable._errors import ConfigurationError, StoreUnavailable
from portable._store import Record, Status, Store, next_record

from ._clients import client
from ._errors import ALREADY_EXISTS, CONDITION_FAILED, error_code, mapped

RECORD_PREFIX = "rec#"
SLOT_PREFIX = "slot#"
TTL_ATTRIBUTE = "ttl"
CLEANUP_AFTER = 24 * 3600.0
"""Seconds between a record's ``expires_at`` and its ``ttl`` (clean-up only)."""
MAX_ROUNDS = 8
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")

NAMES = {
    "#pk": "pk", "#status": "status", "#token": "token", "#expires": "expires_at",
    "#attempts": "attempts", "#first": "first_seen", "#result": "result",
    "#hash": "payload_hash", "#ttl": TTL_ATTRIBUTE,
}
CLAIM_SET = "#status = :in_progress, #token = :token, #expires = :lease, #ttl = :ttl"
# slice -> (condition, how attempts and first_seen are written)
CLAIMS: dict[str, tuple[str, str]] = {
    "carry": (
        "attribute_not_exists(#pk) OR (#status = :released AND #expires > :now)"
        " OR (#status = :in_progress AND #expires <= :now)",
        "#attempts = if_not_exists(#attempts, :zero) + :one, #first = if_not_exists(#first, :now)",
    ),
    "fresh": (
        "#status <> :in_progress AND #expires <= :now",
        "#attempts = :one, #first = :now",
    ),
}
_PLACEHOLDER = re.compile(r"[#:]\w+")


def number(value: float) -> dict[str, str]:
    """A float as a DynamoDB number that reads back exactly (``repr`` round-trips)."""
    return {"N": repr(float(value))}


def _cleanup_at(expires_at: float) -> dict[str, str]:
    return {"N": str(math.ceil(expires_at + CLEANUP_AFTER))}


def _used(expressions: str, table: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``table`` the expressions mention (DynamoDB rejects unused ones)."""
    mentioned = set(_PLACEHOLDER.findall(expressions))
    return {name: value for name, value in table.items() if name in mentioned}


def _expression(condition: str | None, update: str, **values: Any) -> dict[str, Any]:
    """UpdateItem keyword arguments with exactly the names and values used."""
    text = f"{condition or ''} {update}"
    args: dict[str, Any] = {"UpdateExpression": update,
                            "ExpressionAttributeNames": _used(text, NAMES)}
    if condition:
        args["ConditionExpression"] = condition
    used_values = _used(text, {f":{name}": value for name, value in values.items()})
    if used_values:
        args["ExpressionAttributeValues"] = used_values
    return args


def parse_url(url: str) -> tuple[str, bool, str | None]:
    """``dynamodb://table?create=true&region=r`` -> (table, create, region)."""
    expected = "dynamodb://table, 3-255 letters, digits, '_', '-' or '.'"
    parsed = backend_url(url, "dynamodb", ("create", "region"), "DynamoDB store", expected)
    if not _TABLE_NAME.match(parsed.location):
        raise ConfigurationError(f"not a DynamoDB store URL: {url!r} (expected {expected})")
    return parsed.location, parsed.flag("create"), parsed.options.get("region") or None


class DynamoDBStore(Store):
    """One DynamoDB table shared by every instance of a function (safe across them)."""

    def __init__(self, table: str, *, create: bool = False, region: str | None = None) -> None:
        self.table = table
        self._what = f"DynamoDB table {table!r}"
        self._db = client("dynamodb", StoreUnavailable, region)
        if create:
            self._create()

    @classmethod
    def from_url(cls, url: str) -> DynamoDBStore:
        table, create, region = parse_url(url)
        return cls(table, create=create, region=region)

    @contextmanager
    def _reaching(self) -> Iterator[None]:
        with mapped(StoreUnavailable, self._what):
            yield

    def _key(self, prefix: str, name: str) -> dict[str, dict[str, str]]:
        return {"pk": {"S": prefix + name}}

    # -- records ------------------------------------------------------------------------

    def claim(self, key: str, token: str, now: float, lease_until: float,
              payload_hash: str | None) -> Record:
        values: dict[str, Any] = {
            "in_progress": {"S": Status.IN_PROGRESS.value},
            "released": {"S": Status.RELEASED.value},
            "token": {"S": token}, "now": number(now), "lease": number(lease_until),
            "ttl": _cleanup_at(lease_until), "zero": {"N": "0"}, "one": {"N": "1"},
            "hash": {"S": payload_hash},
        }
        slice_name = "carry"
        for _ in range(MAX_ROUNDS):
            won, item = self._conditional_update(
                self._key(RECORD_PREFIX, key), _claim(slice_name, payload_hash, values))
            current = None if item is None else _record(key, item)
            if current is not None and (won or current.token == token or next_record(
                    current, key, token, now, lease_until, payload_hash) is None):
                return current  # won, won before (a retried request), or live: the answer
            slice_name = _slice(current, now)
        raise StoreUnavailable(f"{self._what}: the claim of {key!r} lost {MAX_ROUNDS} races in a "
                               "row to writers changing it; the platform will redeliver")

    def finish(self, key: str, token: str, status: Status, expires_at: float,
               result: str | None = None) -> bool:
        update = "SET #status = :status, #expires = :expires, #ttl = :ttl"
        update += ", #result = :result" if result is not None else " REMOVE #result"
        values = {"token": {"S": token}, "status": {"S": status.value},
                  "expires": number(expires_at), "ttl": _cleanup_at(expires_at),
                  "result": {"S": result}}
        won, _ = self._conditional_update(self._key(RECORD_PREFIX, key),
                                          _expression("#token = :token", update, **values),
                                          item=False)
        return won

    def forget(self, key: str) -> None:
        with self._reaching():
            self._db.delete_item(TableName=self.table, Key=self._key(RECORD_PREFIX, key))

    def _conditional_update(self, key: dict[str, Any], expression: dict[str, Any],
                            item: bool = True) -> tuple[bool, dict[str, Any] | None]:
        """(won, the item after a successful write or as it stood when the condition failed;
        None when ``item`` is false)."""
        with self._reaching():
            try:
                response = self._db.update_item(
                    TableName=self.table, Key=key, ReturnValues="ALL_NEW" if item else "NONE",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD" if item else "NONE",
                    **expression)
            except Exception as exc:
                if error_code(exc) != CONDITION_FAILED:
                    raise
                return False, getattr(exc, "response", {}).get("Item")
        return True, response.get("Attributes")

    # -- slots --------------------------------------------------------------------------

    def slot_get(self, name: str) -> str | None:
        with self._reaching():
            item = self._db.get_item(TableName=self.table, Key=self._key(SLOT_PREFIX, name),
                                     ConsistentRead=True).get("Item")
        if item is None or float(item["expires_at"]["N"]) <= time.time():
            return None
        return str(item["value"]["S"])

    def slot_set(self, name: str, value: str, ttl: float) -> None:
        key = self._key(SLOT_PREFIX, name)
        with self._reaching():
            if ttl <= 0:
                self._db.delete_item(TableName=self.table, Key=key)
                return
            expires_at = time.time() + ttl
            self._db.put_item(TableName=self.table, Item={
                **key, "value": {"S": value}, "expires_at": number(expires_at),
                TTL_ATTRIBUTE: _cleanup_at(expires_at)})

    # -- the table ------------------------------------------------------------------------

    def _create(self) -> None:
        """Create the table unless it exists, wait until it is active, turn on its TTL."""
        with self._reaching():
            try:
                self._db.create_table(
                    TableName=self.table, BillingMode="PAY_PER_REQUEST",
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
                created = True
            except Exception as exc:
                if error_code(exc) not in ALREADY_EXISTS:
                    raise
                created = False  # another instance made it: it turns the TTL on
            self._db.get_waiter("table_exists").wait(
                TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
            if created:
                self._db.update_time_to_live(TableName=self.table, TimeToLiveSpecification={
                    "Enabled": True, "AttributeName": TTL_ATTRIBUTE})

    def close(self) -> None:
        self._db.close()


def _record(key: str, item: Mapping[str, Any]) -> Record:
    return Record(
        key=key,
        status=Status(item["status"]["S"]),
        token=item["token"]["S"],
        expires_at=float(item["expires_at"]["N"]),
        attempts=int(item["attempts"]["N"]),
        first_seen=float(item["first_seen"]["N"]),
        result=item.get("result", {}).get("S"),
        payload_hash=item.get("payload_hash", {}).get("S"),
    )


def _slice(current: Record | None, now: float) -> str:
    """Which of CLAIMS to try against ``current``, a record the claim may take."""
    fresh = current is not None and current.status is not Status.IN_PROGRESS \
        and current.expires_at <= now
    return "fresh" if fresh else "carry"


def _claim(slice_name: str, payload_hash: str | None, values: Mapping[str, Any]) -> dict[str, Any]:
    condition, counting = CLAIMS[slice_name]
    sets = [CLAIM_SET, counting] + (["#hash = :hash"] if payload_hash is not None else [])
    removes = ["#result"] + (["#hash"] if payload_hash is None else [])
    return _expression(condition, f"SET {', '.join(sets)} REMOVE {', '.join(removes)}", **values)
