"""The Azure Table idempotency store: ``azuretable://table[?create=true][&connection=SETTING]``.

One entity per key, changed only by conditional writes (portable/_store.py has the rules):

* **claim**: insert the entity (``create_entity`` fails with EntityAlreadyExists when the key
  has a record). On conflict, read it with its ETag, apply :func:`portable._store.next_record`
  and replace it only if the ETag is unchanged (``IfNotModified``). Losing that race means
  another claimer wrote in between: read again and apply the rule to what it wrote (normally
  its live claim, which is returned). Expiry is decided inside this write, from ``now``.
* **finish**: read, check the token, replace under the ETag read; a changed ETag means the
  token may have lost the record, so it is read and checked again.
* **forget**: an unconditional delete. **slots**: upserts with their own expiry time.

Keys: PartitionKey is the SHA-256 hex of the key (any string is safe, every record its own
partition), RowKey ``record`` or ``slot`` (so a slot and a record of one name never meet).
Times are Edm.Double (exact), the result is UTF-8 in Edm.Binary parts of 60 KB (a property
holds at most 64 KiB, an entity 1 MiB: results up to ~900 KB).

**Cleaning.** Azure Table has no TTL and claims never need one. Expired records stay until
:meth:`TableStore.purge_expired` deletes them: run it on a schedule, e.g. a timer-triggered
function (samples/hello/azure/function_app.py has one) or ``python -c`` in a nightly job.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from portable._errors import PermanentError, StoreUnavailable
from portable._store import Record, Status, Store, next_record

from . import _errors
from ._storage import DEFAULT_SETTING, LazyClient, parse_url, service_client

SCHEME = "azuretable"
RECORD, SLOT = "record", "slot"
PART_BYTES = 60_000
MAX_PARTS = 15
CLAIM_ROUNDS = 10
"""Conditional writes one claim tries before giving up (each lost round means another
claimer's write succeeded, so this is only reached under extreme contention)."""
STALE_LEASE = 24 * 3600.0
"""purge_expired keeps an expired IN_PROGRESS record this long: its attempt count still
matters if the platform redelivers the event."""


class TableStore(Store):
    def __init__(self, table: str, *, connection: str = DEFAULT_SETTING,
                 create: bool = False) -> None:
        self.table = table
        self.connection = connection
        self._create = create
        self._client = LazyClient(self._connect)

    @classmethod
    def from_url(cls, url: str) -> TableStore:
        parsed = parse_url(url, SCHEME, "table", {"create", "connection"})
        return cls(parsed.location, connection=parsed.options.get("connection") or DEFAULT_SETTING,
                   create=parsed.flag("create"))

    # -- the Store seam ---------------------------------------------------------------------

    def claim(
        self, key: str, token: str, now: float, lease_until: float, payload_hash: str | None
    ) -> Record:
        with self._calls("claim"):
            fresh = next_record(None, key, token, now, lease_until, payload_hash)
            assert fresh is not None
            for _ in range(CLAIM_ROUNDS):
                if self._insert(fresh):
                    return fresh
                found = self._read(key)
                if found is None:
                    continue  # forgotten in between: insert again
                current, etag = found
                new = next_record(current, key, token, now, lease_until, payload_hash)
                if new is None:
                    return current
                if self._replace(new, etag):
                    return new
        raise StoreUnavailable(
            f"Azure table {self.table!r}: {CLAIM_ROUNDS} conditional writes on one key lost "
            "to other claimers; the delivery will be retried")

    def finish(
        self, key: str, token: str, status: Status, expires_at: float, result: str | None = None
    ) -> bool:
        with self._calls("finish"):
            for _ in range(CLAIM_ROUNDS):
                found = self._read(key)
                if found is None or found[0].token != token:
                    return False
                current, etag = found
                updated = Record(key, status, token, expires_at, current.attempts,
                                 current.first_seen, result, current.payload_hash)
                if self._replace(updated, etag):
                    return True
            return False

    def forget(self, key: str) -> None:
        with self._calls("forget"):
            self._table().delete_entity(_partition(key), RECORD)

    def slot_get(self, name: str) -> str | None:
        with self._calls("slot_get"):
            entity = self._get(_partition(name), SLOT)
        if entity is None or float(entity["ExpiresAt"]) <= time.time():
            return None
        return str(entity["Value"])

    def slot_set(self, name: str, value: str, ttl: float) -> None:
        from azure.data.tables import UpdateMode

        entity = {"PartitionKey": _partition(name), "RowKey": SLOT, "Value": value,
                  "ExpiresAt": float(time.time() + ttl)}
        with self._calls("slot_set"):
            self._table().upsert_entity(entity, mode=UpdateMode.REPLACE)

    def close(self) -> None:
        self._client.close()

    # -- cleaning ---------------------------------------------------------------------------

    def purge_expired(self, now: float | None = None, *, stale_lease: float = STALE_LEASE) -> int:
        """Delete finished records and slots past their expiry, and IN_PROGRESS records whose
        lease ended more than ``stale_lease`` seconds ago. Returns how many were deleted.

        Each delete is conditional on the ETag read, so a record claimed meanwhile stays."""
        from azure.core import MatchConditions

        moment = time.time() if now is None else now
        deleted = 0
        with self._calls("purge_expired"):
            table = self._table()
            rows = table.query_entities(
                "ExpiresAt le @now", parameters={"now": float(moment)},
                select=["PartitionKey", "RowKey", "Status", "ExpiresAt"])
            for row in rows:
                if row.get("Status") == Status.IN_PROGRESS and \
                        float(row["ExpiresAt"]) > moment - stale_lease:
                    continue
                try:
                    table.delete_entity(row["PartitionKey"], row["RowKey"],
                                        etag=row.metadata["etag"],
                                        match_condition=MatchConditions.IfNotModified)
                except Exception as exc:
                    if not _errors.is_code(exc, *_errors.ETAG_CHANGED, _errors.ENTITY_MISSING):
                        raise
                    continue
                deleted += 1
        return deleted

    # -- entity reads and writes --------------------------------------------------------------

    def _insert(self, record: Record) -> bool:
        try:
            self._table().create_entity(_entity(record))
        except Exception as exc:
            if _errors.is_code(exc, _errors.ENTITY_EXISTS):
                return False
            raise
        return True

    def _replace(self, record: Record, etag: str) -> bool:
        """Write ``record`` over the entity if its ETag is still ``etag``."""
        from azure.core import MatchConditions
        from azure.data.tables import UpdateMode

        try:
            self._table().update_entity(_entity(record), mode=UpdateMode.REPLACE, etag=etag,
                                        match_condition=MatchConditions.IfNotModified)
        except Exception as exc:
            if _errors.is_code(exc, *_errors.ETAG_CHANGED, _errors.ENTITY_MISSING):
                return False
            raise
        return True

    def _read(self, key: str) -> tuple[Record, str] | None:
        entity = self._get(_partition(key), RECORD)
        if entity is None:
            return None
        return _record(key, entity), str(entity.metadata["etag"])

    def _get(self, partition: str, row: str) -> Any:
        try:
            return self._table().get_entity(partition, row)
        except Exception as exc:
            if _errors.is_code(exc, _errors.ENTITY_MISSING):
                return None
            raise

    def _table(self) -> Any:
        return self._client.get()

    def _connect(self) -> Any:
        client = service_client("table", self.connection).get_table_client(self.table)
        if self._create:
            _create_table(client)
        return client

    @contextmanager
    def _calls(self, operation: str) -> Iterator[None]:
        with _errors.mapped(f"Azure table {self.table!r} ({operation})", StoreUnavailable):
            yield


def _create_table(client: Any) -> None:
    try:
        client.create_table()
    except Exception as exc:
        if not _errors.is_code(exc, *_errors.ALREADY_EXISTS):
            raise


def _partition(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _entity(record: Record) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": _partition(record.key),
        "RowKey": RECORD,
        "Status": record.status.value,
        "Token": record.token,
        "ExpiresAt": float(record.expires_at),
        "Attempts": int(record.attempts),
        "FirstSeen": float(record.first_seen),
        "PayloadHash": record.payload_hash,
    }
    if record.result is not None:
        data = record.result.encode("utf-8")
        parts = [data[i:i + PART_BYTES] for i in range(0, len(data), PART_BYTES)]
        if len(parts) > MAX_PARTS:
            raise PermanentError(
                f"a handler result of {len(data)} bytes does not fit an Azure Table entity "
                f"(at most {MAX_PARTS * PART_BYTES}): return a reference to the data instead")
        entity["ResultParts"] = len(parts)
        entity.update({f"Result{i}": part for i, part in enumerate(parts)})
    return entity


def _record(key: str, entity: Any) -> Record:
    result = None
    if "ResultParts" in entity:
        parts = int(entity["ResultParts"])
        result = b"".join(bytes(entity[f"Result{i}"]) for i in range(parts)).decode("utf-8")
    return Record(
        key=key,
        status=Status(entity["Status"]),
        token=str(entity["Token"]),
        expires_at=float(entity["ExpiresAt"]),
        attempts=int(entity["Attempts"]),
        first_seen=float(entity["FirstSeen"]),
        result=result,
        payload_hash=entity.get("PayloadHash"),
    )
