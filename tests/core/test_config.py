"""Stores and sinks by URL, and the cold-start check on cloud runtimes."""

from __future__ import annotations

from pathlib import Path

import pytest

import portable
from portable import ConfigurationError, MemorySink, MemoryStore, Pipeline
from portable._config import sink_from, store_from
from portable._sqlite import SQLiteSink, SQLiteStore


def test_local_defaults_are_sqlite_files(isolated_env: Path) -> None:
    p = Pipeline(lambda e: 1 / 0, retry=1, max_attempts=1)
    assert isinstance(p.store, SQLiteStore) and isinstance(p.sink, SQLiteSink)
    p.process(portable.new_event({"id": "1", "source": "/s", "type": "t"}))
    assert len(p.sink.list()) == 1
    assert (isolated_env / ".portable" / "idempotency.db").exists()
    assert (isolated_env / ".portable" / "dead-letters.db").exists()


def test_environment_overrides_and_code_overrides_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PORTABLE_STORE", "memory://")
    monkeypatch.setenv("PORTABLE_DLQ", "memory://")
    p = Pipeline(lambda e: None)
    assert isinstance(p.store, MemoryStore) and isinstance(p.sink, MemorySink)
    q = Pipeline(lambda e: None, store="sqlite:///x.db")
    assert isinstance(q.store, SQLiteStore)


@pytest.mark.parametrize(
    "variable,platform",
    [
        ("AWS_LAMBDA_FUNCTION_NAME", "AWS Lambda"),
        ("WEBSITE_INSTANCE_ID", "Azure Functions"),
        ("K_SERVICE", "Google Cloud"),
        ("FUNCTION_NAME", "Google Cloud"),
    ],
)
def test_cloud_runtime_without_settings_fails_at_cold_start(
    monkeypatch: pytest.MonkeyPatch, variable: str, platform: str
) -> None:
    monkeypatch.setenv(variable, "fn")
    with pytest.raises(ConfigurationError, match=f"{platform}.*PORTABLE_STORE and PORTABLE_DLQ"):
        Pipeline(lambda e: None)
    monkeypatch.setenv("PORTABLE_STORE", "memory://")
    with pytest.raises(ConfigurationError, match="without PORTABLE_DLQ"):
        Pipeline(lambda e: None)
    monkeypatch.setenv("PORTABLE_DLQ", "memory://")
    Pipeline(lambda e: None)  # explicit opt-out is accepted


def test_cloud_runtime_accepts_settings_given_in_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "fn")
    Pipeline(lambda e: None, store="memory://", dlq="memory://")


def test_unknown_scheme_and_bad_urls_are_explained() -> None:
    with pytest.raises(ConfigurationError, match="unknown store URL scheme 'mongo'.*known: memory"):
        store_from("mongo://x")
    with pytest.raises(ConfigurationError, match="names no file"):
        sink_from("sqlite:///")


def test_public_names_are_exactly_the_intended_ones() -> None:
    exported = {name for name in dir(portable) if not name.startswith("_")}
    modules = {"storage"}
    assert exported - modules - {"CloudEvent"} <= set(portable.__all__)
    assert set(portable.__all__) <= exported | {"__version__"}


def test_missing_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from portable import _config

    monkeypatch.setitem(_config.STORES, "dynamodb", ("not_installed_sdk_module", "X", "aws"))
    with pytest.raises(ConfigurationError, match=r"pip install 'portable-functions\[aws\]'"):
        store_from("dynamodb://table")
