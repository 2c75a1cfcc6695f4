"""What the Redis store does beyond the contract: URL options, clean-up expiry, script cache,
failing fast and without leaking the password."""

from __future__ import annotations

import time
import uuid

import pytest
import redis

from portable import ConfigurationError, Status, StoreUnavailable
from portable._config import store_from
from portable._redis import CLEANUP_AFTER, RedisStore
from tests.contract.backends import RedisServer
from tests.emulators import free_port

pytestmark = pytest.mark.emulator("redis-server")


@pytest.fixture
def raw(redis_server: RedisServer) -> redis.Redis:
    return redis.Redis(port=redis_server.port, decode_responses=True)


def test_records_and_slots_live_under_the_prefix(
    redis_server: RedisServer, raw: redis.Redis
) -> None:
    prefix = f"app-{uuid.uuid4().hex}:"
    store = store_from(f"{redis_server.url}?prefix={prefix}")
    store.claim("k", "a", 100.0, 130.0, None)
    store.slot_set("breaker:db", "open", ttl=60)
    assert sorted(raw.keys(f"{prefix}*")) == [f"{prefix}rec:k", f"{prefix}slot:breaker:db"]
    store.close()


def test_the_default_prefix_is_portable(redis_server: RedisServer) -> None:
    assert RedisStore(redis_server.url).prefix == "portable:"


def test_redis_expiry_only_cleans_up_long_after_the_record_expires(
    redis_server: RedisServer, raw: redis.Redis
) -> None:
    store = RedisStore(f"{redis_server.url}?prefix=ttl-{uuid.uuid4().hex}:")
    key = f"{store.prefix}rec:k"
    now = time.time()
    store.claim("k", "a", now, now + 30, None)
    assert 30 + CLEANUP_AFTER - 2 <= raw.ttl(key) <= 30 + CLEANUP_AFTER + 1
    store.finish("k", "a", Status.COMPLETED, now + 86400, "1")
    assert 86400 + CLEANUP_AFTER - 2 <= raw.ttl(key) <= 86400 + CLEANUP_AFTER + 1
    store.close()


def test_scripts_are_loaded_again_when_the_server_forgot_them(
    redis_server: RedisServer, raw: redis.Redis
) -> None:
    store = RedisStore(f"{redis_server.url}?prefix=flush-{uuid.uuid4().hex}:")
    store.claim("k1", "a", 100.0, 130.0, None)
    raw.script_flush()
    assert store.claim("k2", "b", 100.0, 130.0, None).token == "b"
    assert store.finish("k2", "b", Status.COMPLETED, 200.0, "2")
    store.close()


def test_a_stopped_server_fails_fast_and_keeps_the_password_out() -> None:
    store = RedisStore(f"redis://:s3cret@127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        store.claim("k", "a", 100.0, 130.0, None)
    assert time.monotonic() - started < 1.0
    assert "127.0.0.1" in str(caught.value) and "s3cret" not in str(caught.value)


def test_redis_py_url_options_pass_through(redis_server: RedisServer) -> None:
    store = RedisStore(f"{redis_server.url}?socket_timeout=0.5&prefix=opt:")
    assert store.prefix == "opt:"
    assert store._pool.connection_kwargs["socket_timeout"] == 0.5
    assert store.claim("k", "a", 100.0, 130.0, None).token == "a"
    store.close()


def test_a_url_of_another_scheme_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="not a redis URL"):
        RedisStore("http://127.0.0.1:6379/0")
