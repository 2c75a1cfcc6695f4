"""The README's demo command works from a clean folder and says what happened."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_demo_serves_delivers_and_dead_letters(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "portable", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "under functions-framework" in out
    assert "report.txt again   binary      duplicate" in out
    assert "empty.csv          structured  dead_lettered  PermanentError" in out
    assert "logo.manifest.json: image/png, 32 bytes" in out
    assert "Dead letters in the local file (1)" in out
    inbox = tmp_path / ".portable" / "demo" / "inbox"
    assert sorted(p.name for p in inbox.glob("*.manifest.json")) == [
        "logo.manifest.json", "report.txt.manifest.json"]
