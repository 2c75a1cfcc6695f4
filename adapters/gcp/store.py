"""Firestore backend for the idempotency store: ``firestore://collection``.

One document per record (id ``r:<key>``, percent-encoded) and per slot (``s:<name>``) in the
collection; a nested collection is a path (``firestore://tenants/acme/idempotency``). URL
options: ``?project=`` (default: GOOGLE_CLOUD_PROJECT or the ambient project) and
``?database=`` (default ``(default)``). FIRESTORE_EMULATOR_HOST points the client at an emulator.

Every change is one conditional write that applies the rule of
:func:`portable._store.next_record` to the record as it was read:

1. a claim first ``create()``s the record, which fails with ALREADY_EXISTS unless the key is
   new (one round trip for a new event);
2. otherwise it reads the record: a live one is returned as it stands, nothing written;
3. otherwise it writes the rule's record with an ``update()`` conditioned on the document's
   ``update_time`` as read. Expiry is decided against the caller's ``now`` on that read, and
   the write succeeds only if nothing changed since; if another writer came first, the store
   reads again and decides again (a race settles in two or three rounds).

``finish`` writes the same way, only while the caller's token holds the record.

Why not a transaction: Firestore's server-side transactions lock what they read, so claimers
of one expired record block each other until the lock times out. The emulator resolves
sixteen of them in 2 s at best and, often enough to fail the contract suite, not within
100 s; the conditional write never blocks, and settles the same race in about 0.1 s.

Every document also carries ``purge_at``, an hour past its expiry: a Firestore TTL policy on
that field (see samples/hello/gcp/deploy.sh) deletes old records. It is clean-up only; claims
never rely on it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from portable._config import backend_url
from portable._errors import ConfigurationError, StoreUnavailable
from portable._store import Record, Status, Store, next_record

from ._errors import installed, lost_race, translated

if TYPE_CHECKING:
    from google.cloud import firestore

    Snapshot = firestore.DocumentSnapshot[firestore.DocumentReference]

CLEANUP_AFTER = 3600.0
"""Seconds a document stays after it expires, for the TTL policy (claims never rely on it)."""
MAX_ROUNDS = 20
"""Reads and conditional writes a claim or finish tries; each lost round means another
writer won one, so a race settles within two or three."""
URL_OPTIONS = frozenset({"project", "database"})


class FirestoreStore(Store):
    """Records in one Firestore collection, shared by every instance of a function."""

    def __init__(self, collection: str, *, project: str | None = None,
                 database: str | None = None) -> None:
        segments = collection.strip("/").split("/")
        if not all(segments) or len(segments) % 2 == 0:
            raise ConfigurationError(
                f"{collection!r} is not a Firestore collection path: give a collection name, "
                "or collection/document/collection...")
        self.collection = "/".join(segments)
        self.project = project
        self.database = database
        self._where = f"firestore store {self.collection!r}"

    @classmethod
    def from_url(cls, url: str) -> FirestoreStore:
        """``firestore://collection[?project=P&database=D]``."""
        parsed = backend_url(url, "firestore", URL_OPTIONS, "Firestore store",
                             "firestore://collection")
        return cls(parsed.location, project=parsed.options.get("project"),
                   database=parsed.options.get("database"))

    @cached_property
    def _client(self) -> firestore.Client:
        """Created on first use, so a store built before a fork opens its channel after it."""
        with installed("google-cloud-firestore"):
            from google.cloud import firestore
        with translated(self._where, StoreUnavailable):
            return firestore.Client(project=self.project, database=self.database)

    def _document(self, kind: str, name: str) -> firestore.DocumentReference:
        return self._client.collection(self.collection).document(f"{kind}:{quote(name, safe='')}")

    # -- records ------------------------------------------------------------------------

    def claim(self, key: str, token: str, now: float, lease_until: float,
              payload_hash: str | None) -> Record:
        ref = self._document("r", key)
        snapshot: Snapshot | None = None  # not read: assume a new key
        with translated(self._where, StoreUnavailable):
            for _ in range(MAX_ROUNDS):
                current = None if snapshot is None else _record(snapshot)
                new = next_record(current, key, token, now, lease_until, payload_hash)
                if new is None:
                    assert current is not None
                    return current
                if self._write(ref, new, snapshot):
                    return new
                snapshot = ref.get()
        raise self._contended()

    def finish(self, key: str, token: str, status: Status, expires_at: float,
               result: str | None = None) -> bool:
        ref = self._document("r", key)
        with translated(self._where, StoreUnavailable):
            for _ in range(MAX_ROUNDS):
                snapshot = ref.get()
                current = _record(snapshot)
                if current is None or current.token != token:
                    return False
                done = current._replace(status=status, expires_at=expires_at, result=result)
                if self._write(ref, done, snapshot):
                    return True
        raise self._contended()

    def forget(self, key: str) -> None:
        with translated(self._where, StoreUnavailable):
            self._document("r", key).delete()

    def _write(self, ref: firestore.DocumentReference, record: Record,
               read: Snapshot | None) -> bool:
        """Write ``record`` only if the document is still as ``read`` saw it (absent when
        ``read`` is None or missing); False when another writer came first."""
        from google.api_core.exceptions import GoogleAPICallError

        try:
            if read is None or not read.exists:
                ref.create(_fields(record))
            else:
                option = self._client.write_option(last_update_time=read.update_time)
                ref.update(_fields(record), option=option)
        except GoogleAPICallError as exc:
            if not lost_race(exc, updating=read is not None and read.exists):
                raise
            return False
        return True

    def _contended(self) -> StoreUnavailable:
        return StoreUnavailable(f"{self._where}: other writers changed the record {MAX_ROUNDS} "
                                "times in a row")

    # -- slots --------------------------------------------------------------------------

    def slot_get(self, name: str) -> str | None:
        with translated(self._where, StoreUnavailable):
            fields = self._document("s", name).get().to_dict()
        if not fields or fields["expires_at"] <= time.time():
            return None
        return str(fields["value"])

    def slot_set(self, name: str, value: str, ttl: float) -> None:
        expires_at = time.time() + ttl
        with translated(self._where, StoreUnavailable):
            self._document("s", name).set({"value": value, "expires_at": expires_at,
                                           "purge_at": _purge_at(expires_at)})

    def close(self) -> None:
        if "_client" in self.__dict__:
            self._client.close()  # type: ignore[no-untyped-call]
            del self.__dict__["_client"]


def _fields(record: Record) -> dict[str, Any]:
    return {"key": record.key, "status": record.status.value, "token": record.token,
            "expires_at": record.expires_at, "attempts": record.attempts,
            "first_seen": record.first_seen, "result": record.result,
            "payload_hash": record.payload_hash, "purge_at": _purge_at(record.expires_at)}


def _record(snapshot: Snapshot) -> Record | None:
    fields = snapshot.to_dict()
    if not fields:
        return None
    return Record(fields["key"], Status(fields["status"]), fields["token"],
                  float(fields["expires_at"]), int(fields["attempts"]),
                  float(fields["first_seen"]), fields.get("result"), fields.get("payload_hash"))


def _purge_at(expires_at: float) -> datetime:
    return datetime.fromtimestamp(expires_at + CLEANUP_AFTER, UTC)
