"""Redis backend for the idempotency store: ``redis://host:port/db`` or ``rediss://`` (TLS).

Each record is a hash under ``<prefix>rec:<key>``; the claim rule
(:func:`portable._store.next_record`) and the token check of ``finish`` each run as one Lua
script, so every change is a single atomic step on the server. Expiry is decided inside the
claim script by comparing ``expires_at`` with the caller's ``now``; the Redis expiry set on each
record is clean-up only, an hour after the record expires, so an eviction never decides a claim.

URL options: ``?prefix=`` (default ``portable:``) separates applications sharing one database;
redis-py's own query options (``socket_timeout``, ``socket_connect_timeout``, ...) override the
defaults below. Connection failures raise :class:`~portable.StoreUnavailable`.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import time
import weakref
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._errors import ConfigurationError, StoreUnavailable, missing_extra
from ._store import Record, Status, Store

DEFAULT_PREFIX = "portable:"
CLEANUP_AFTER = 3600.0
"""Seconds a record stays in Redis after it expires (clean-up only; claims never rely on it)."""
CONNECT_TIMEOUT = 2.0
SOCKET_TIMEOUT = 5.0


class Connection(Protocol):
    """What this store uses of a redis-py connection (those methods are untyped there)."""

    def send_command(self, *args: Any) -> None: ...

    def read_response(self) -> Any: ...

    def disconnect(self) -> None: ...


class Script:
    """A Lua script and the SHA1 that Redis caches it by."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()


# KEYS[1] the record; ARGV: token, now, lease_until, keep (seconds), [payload_hash].
# Returns status, token, expires_at, attempts, first_seen, result, payload_hash after the claim.
_CLAIM = Script("""
local cur = redis.call('HMGET', KEYS[1], 'status', 'token', 'expires_at', 'attempts',
                       'first_seen', 'result', 'payload_hash')
local attempts, first_seen = 1, ARGV[2]
if cur[1] then
  local live = tonumber(cur[3]) > tonumber(ARGV[2])
  if live and cur[1] ~= 'RELEASED' then
    return cur
  end
  if live or cur[1] == 'IN_PROGRESS' then
    attempts, first_seen = tonumber(cur[4]) + 1, cur[5]
  end
  redis.call('HDEL', KEYS[1], 'result', 'payload_hash')
end
redis.call('HSET', KEYS[1], 'status', 'IN_PROGRESS', 'token', ARGV[1], 'expires_at', ARGV[3],
           'attempts', attempts, 'first_seen', first_seen)
local hash = ARGV[5] or false
if hash then
  redis.call('HSET', KEYS[1], 'payload_hash', hash)
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {'IN_PROGRESS', ARGV[1], ARGV[3], tostring(attempts), first_seen, false, hash}
""")

# KEYS[1] the record; ARGV: token, status, expires_at, keep (seconds), [result]. 1 if written.
_FINISH = Script("""
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'expires_at', ARGV[3])
if ARGV[5] then
  redis.call('HSET', KEYS[1], 'result', ARGV[5])
else
  redis.call('HDEL', KEYS[1], 'result')
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
""")


def _keep(seconds: float) -> int:
    """The Redis expiry of a record: its remaining life plus the clean-up delay, whole seconds."""
    return math.ceil(max(seconds, 0.0) + CLEANUP_AFTER)


def split_url(url: str) -> tuple[str, str]:
    """Separate our ``prefix`` option from the URL that redis-py parses."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ConfigurationError(f"not a redis URL: {url!r} (expected redis://host:port/db)")
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = next((value for name, value in query if name == "prefix"), DEFAULT_PREFIX)
    rest = urlencode([(name, value) for name, value in query if name != "prefix"])
    return urlunsplit(parts._replace(query=rest)), prefix


class RedisStore(Store):
    """One Redis database shared by every instance of a function (and safe across them).

    Each thread (and each process after a fork) keeps one connection of its own, as
    SQLiteStore does, and speaks to it directly: redis-py's client layer would triple the cost
    of a command here. Scripts run by SHA and are sent in full only when the server lacks them.
    """

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError as exc:
            raise missing_extra("redis", "redis") from exc
        self._unknown_script = redis.exceptions.NoScriptError
        self._reply_error = redis.ResponseError
        self._errors: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError)
        url, self.prefix = split_url(url)
        parts = urlsplit(url)  # for messages: never the password
        self._where = f"{parts.hostname}:{parts.port or 6379}{parts.path}"
        self._pool = redis.ConnectionPool.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=SOCKET_TIMEOUT,
        )
        self._local = threading.local()
        self._connections: weakref.WeakSet[Connection] = weakref.WeakSet()

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        return cls(url)

    def _connection(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = self._pool.make_connection()  # connects on first use
            self._local.conn, self._local.pid = conn, os.getpid()
            self._connections.add(conn)
        return conn

    def _command(self, *args: Any) -> Any:
        conn = self._connection()
        try:
            return self._round_trip(conn, args)
        except self._errors:
            # A restarted server leaves a dead socket: once more, on a fresh one. Every command
            # here is safe to repeat (a repeated claim finds its own token).
            try:
                return self._round_trip(conn, args)
            except self._errors as exc:
                raise StoreUnavailable(f"redis store {self._where} unreachable: {exc}") from exc

    def _round_trip(self, conn: Connection, args: tuple[Any, ...]) -> Any:
        try:
            conn.send_command(*args)
            return conn.read_response()
        except self._reply_error:  # an error reply, read whole: the connection is fine
            raise
        except BaseException:
            conn.disconnect()  # never leave a reply unread for the next command
            raise

    def _script(self, script: Script, key: str, args: list[Any]) -> Any:
        try:
            return self._command("EVALSHA", script.sha, 1, key, *args)
        except self._unknown_script:  # a restarted or flushed server: EVAL caches it again
            return self._command("EVAL", script.source, 1, key, *args)

    def _record_key(self, key: str) -> str:
        return f"{self.prefix}rec:{key}"

    def _slot_key(self, name: str) -> str:
        return f"{self.prefix}slot:{name}"

    def claim(
        self, key: str, token: str, now: float, lease_until: float, payload_hash: str | None
    ) -> Record:
        args: list[Any] = [token, repr(now), repr(lease_until), _keep(lease_until - now)]
        if payload_hash is not None:
            args.append(payload_hash)
        fields = self._script(_CLAIM, self._record_key(key), args)
        status, owner, expires_at, attempts, first_seen, result, stored_hash = fields
        return Record(
            key,
            Status(status),
            owner,
            float(expires_at),
            int(attempts),
            float(first_seen),
            result,
            stored_hash,
        )

    def finish(
        self, key: str, token: str, status: Status, expires_at: float, result: str | None = None
    ) -> bool:
        # finish has no ``now``: the clean-up expiry is counted from this machine's clock.
        args: list[Any] = [token, status.value, repr(expires_at), _keep(expires_at - time.time())]
        if result is not None:
            args.append(result)
        return bool(self._script(_FINISH, self._record_key(key), args))

    def forget(self, key: str) -> None:
        self._command("DEL", self._record_key(key))

    def slot_get(self, name: str) -> str | None:
        value = self._command("GET", self._slot_key(name))
        return None if value is None else str(value)

    def slot_set(self, name: str, value: str, ttl: float) -> None:
        if ttl <= 0:
            self._command("DEL", self._slot_key(name))
        else:
            self._command("SET", self._slot_key(name), value, "PX", max(1, round(ttl * 1000)))

    def close(self) -> None:
        for conn in list(self._connections):
            conn.disconnect()
        self._connections = weakref.WeakSet()
        self._local = threading.local()
