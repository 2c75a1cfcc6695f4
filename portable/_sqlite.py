"""SQLite backends, the embedded default: ``sqlite:///path.db`` for the store and the sink.

Safe across threads (a connection per thread) and across processes on one machine (SQLite's
file locks, WAL journal, ``BEGIN IMMEDIATE`` around each conditional write, a busy timeout).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from typing import Any

from ._deadletter import DeadLetter, Sink
from ._errors import ConfigurationError
from ._store import Record, Status, Store


def path_from_url(url: str) -> str:
    """``sqlite:///rel.db`` -> ``rel.db``; ``sqlite:////abs/path.db`` -> ``/abs/path.db``."""
    if not url.startswith("sqlite:///"):
        raise ConfigurationError(f"not a sqlite URL: {url!r} (expected sqlite:///path/to/file.db)")
    path = url[len("sqlite:///") :].split("?", 1)[0]
    if not path:
        raise ConfigurationError(f"sqlite URL {url!r} names no file")
    return path


class _Database:
    """One file, a connection per thread, a schema created on first use.

    A forked child never touches its parent's connections (SQLite forbids using a connection
    across fork()): it opens its own, and leaves the inherited ones alone.
    """

    def __init__(self, path: str, schema: str, timeout: float = 10.0) -> None:
        self.path = path
        self._schema = schema
        self._timeout = timeout
        self._pid = os.getpid()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._inherited: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)

    def connection(self) -> sqlite3.Connection:
        if self._pid != os.getpid():
            self._pid, self._lock = os.getpid(), threading.Lock()
            self._inherited, self._connections = self._inherited + self._connections, []
            self._local = threading.local()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        try:
            self._use_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(self._schema)
        except BaseException:
            conn.close()
            raise
        return conn

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        """Switch to WAL (once per file: the mode persists). Processes opening a new file at
        the same moment get SQLITE_BUSY here without the busy timeout applying: wait it out."""
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()


_STORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    key TEXT PRIMARY KEY, status TEXT NOT NULL, token TEXT NOT NULL, expires_at REAL NOT NULL,
    attempts INTEGER NOT NULL, first_seen REAL NOT NULL, result TEXT, payload_hash TEXT);
CREATE TABLE IF NOT EXISTS slots (
    name TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL NOT NULL);
"""

# The claim rule of portable._store.next_record, as one conditional upsert.
_CLAIM = """
INSERT INTO records (key, status, token, expires_at, attempts, first_seen, result, payload_hash)
VALUES (:key, 'IN_PROGRESS', :token, :lease, 1, :now, NULL, :hash)
ON CONFLICT (key) DO UPDATE SET
    status = 'IN_PROGRESS', token = excluded.token, expires_at = excluded.expires_at,
    attempts = CASE WHEN records.expires_at > :now OR records.status = 'IN_PROGRESS'
                    THEN records.attempts + 1 ELSE 1 END,
    first_seen = CASE WHEN records.expires_at > :now OR records.status = 'IN_PROGRESS'
                      THEN records.first_seen ELSE :now END,
    result = NULL, payload_hash = excluded.payload_hash
WHERE records.status = 'RELEASED' OR records.expires_at <= :now
"""


class SQLiteStore(Store):
    def __init__(self, url: str) -> None:
        self._db = _Database(path_from_url(url), _STORE_SCHEMA)

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        return cls(url)

    def claim(
        self, key: str, token: str, now: float, lease_until: float, payload_hash: str | None
    ) -> Record:
        conn = self._db.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                _CLAIM,
                {
                    "key": key,
                    "token": token,
                    "lease": lease_until,
                    "now": now,
                    "hash": payload_hash,
                },
            )
            row = conn.execute("SELECT * FROM records WHERE key = ?", (key,)).fetchone()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (busy, I/O error)
                conn.execute("ROLLBACK")
            raise
        return _record(row)

    def finish(
        self, key: str, token: str, status: Status, expires_at: float, result: str | None = None
    ) -> bool:
        cur = self._db.connection().execute(
            "UPDATE records SET status = ?, expires_at = ?, result = ? WHERE key = ? AND token = ?",
            (status.value, expires_at, result, key, token),
        )
        return cur.rowcount == 1

    def forget(self, key: str) -> None:
        self._db.connection().execute("DELETE FROM records WHERE key = ?", (key,))

    def slot_get(self, name: str) -> str | None:
        row = (
            self._db.connection()
            .execute(
                "SELECT value FROM slots WHERE name = ? AND expires_at > ?", (name, time.time())
            )
            .fetchone()
        )
        return None if row is None else str(row[0])

    def slot_set(self, name: str, value: str, ttl: float) -> None:
        self._db.connection().execute(
            "INSERT INTO slots (name, value, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value, "
            "expires_at = excluded.expires_at",
            (name, value, time.time() + ttl),
        )

    def purge_expired(self, now: float | None = None) -> int:
        """Delete records past their TTL (SQLite has no sweeper; claims never depend on one)."""
        cur = self._db.connection().execute(
            "DELETE FROM records WHERE expires_at <= ? AND status != 'IN_PROGRESS'",
            (time.time() if now is None else now,),
        )
        return cur.rowcount

    def close(self) -> None:
        self._db.close()


def _record(row: Any) -> Record:
    key, status, token, expires_at, attempts, first_seen, result, payload_hash = row
    return Record(
        key, Status(status), token, expires_at, attempts, first_seen, result, payload_hash
    )


_SINK_SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, body TEXT NOT NULL);
"""


class SQLiteSink(Sink):
    """The local dead-letter file. Rows hold the dead letter's JSON as is."""

    def __init__(self, url: str) -> None:
        self._db = _Database(path_from_url(url), _SINK_SCHEMA)

    @classmethod
    def from_url(cls, url: str) -> SQLiteSink:
        return cls(url)

    @property
    def path(self) -> str:
        return self._db.path

    def put(self, letter: DeadLetter) -> None:
        self._db.connection().execute(
            "INSERT INTO dead_letters (id, body) VALUES (?, ?) "
            "ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            (letter.id, letter.to_json()),
        )

    def list(self, limit: int = 100) -> list[DeadLetter]:
        rows = (
            self._db.connection()
            .execute("SELECT body FROM dead_letters ORDER BY seq LIMIT ?", (limit,))
            .fetchall()
        )
        return [DeadLetter.from_json(row[0]) for row in rows]

    def get(self, letter_id: str) -> DeadLetter | None:
        row = (
            self._db.connection()
            .execute("SELECT body FROM dead_letters WHERE id = ?", (letter_id,))
            .fetchone()
        )
        return None if row is None else DeadLetter.from_json(row[0])

    def delete(self, letter_id: str) -> bool:
        cur = self._db.connection().execute("DELETE FROM dead_letters WHERE id = ?", (letter_id,))
        return cur.rowcount == 1

    def purge(self) -> int:
        return self._db.connection().execute("DELETE FROM dead_letters").rowcount

    def close(self) -> None:
        self._db.close()
