"""Test-wide fixtures: an isolated environment per test, and the shared fixture folder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO.parent / "shared" / "fixtures"

_PLATFORM_VARS = (
    "AWS_LAMBDA_FUNCTION_NAME",
    "WEBSITE_INSTANCE_ID",
    "K_SERVICE",
    "FUNCTION_NAME",
    "PORTABLE_STORE",
    "PORTABLE_DLQ",
)


def fixture(relative: str) -> Any:
    """A real provider payload from ../shared/fixtures, parsed."""
    return json.loads((FIXTURES / relative).read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No platform variables leak in, and local defaults land in the test's own folder."""
    for name in _PLATFORM_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI every test must run: a skip means an emulator or dependency was missing."""
    from tests.emulators import IN_CI

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if IN_CI and skipped and exitstatus == 0:
        if reporter:
            reporter.write_line(
                f"CI=true: {skipped} test(s) were skipped; every test must run in CI", red=True
            )
        session.exitstatus = 1
