"""What `portable dev` says before it starts anything: no source, a missing emulator, a bad
handler."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def dev(workdir: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path if path is not None else os.environ.get("PATH", "")}
    env.pop("AzureWebJobsStorage", None)
    env.pop("PUBSUB_EMULATOR_HOST", None)
    (workdir / "quiet.py").write_text("def handle(event):\n    return None\n")
    return subprocess.run([sys.executable, "-m", "portable", "dev", *args], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=60)


def test_a_source_must_be_named(tmp_path: Path) -> None:
    result = dev(tmp_path, "quiet:handle")
    assert result.returncode == 2
    assert "--aws, --azure, --gcp or --folder PATH" in result.stderr


def test_missing_emulators_are_named_with_what_installs_them(tmp_path: Path) -> None:
    result = dev(tmp_path, "quiet:handle", "--azure", "--gcp", path=str(tmp_path / "empty"))
    assert result.returncode == 1
    assert "cannot start azurite needs azurite: npm install -g azurite" in result.stdout
    assert "gcloud components install pubsub-emulator" in result.stdout
    assert "starting" not in result.stdout  # nothing was started


def test_a_handler_that_cannot_be_imported_fails_before_any_emulator_starts(
        tmp_path: Path) -> None:
    result = dev(tmp_path, "nowhere:handle", "--aws")
    assert result.returncode == 1
    assert "cannot import 'nowhere'" in result.stderr and "starting" not in result.stdout
