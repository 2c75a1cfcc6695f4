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
    assert "order 1001 again         binary      duplicate" in out
    assert "dead_lettered   PermanentError: order 1002 has no items" in out
    assert "Dead letters in the local file (1)" in out
    assert (tmp_path / ".portable" / "demo" / "dead-letters.db").exists()
