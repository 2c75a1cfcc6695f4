"""The local folder provider, and `portable dev --folder` delivering to a served handler."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from portable import storage
from portable._local import CREATED_TYPE, DELETED_TYPE, FolderWatcher
from tests.conftest import REPO


def settle(watcher: FolderWatcher) -> list:  # type: ignore[type-arg]
    """Two polls: a change is reported once it held still for one poll."""
    return watcher.poll() + watcher.poll()


def test_new_changed_and_removed_files_become_storage_events(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("there before")
    watcher = FolderWatcher(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "new file.csv").write_text("a,b\n")
    [created] = settle(watcher)
    assert created["type"] == CREATED_TYPE and created["subject"] == "sub/new file.csv"
    assert created["source"] == f"file://{tmp_path.resolve().as_posix()}"
    obj = storage.object_event(created)
    assert (obj.action, obj.provider, obj.key, obj.size) == (
        "created",
        "local",
        "sub/new file.csv",
        4,
    )
    assert Path(created.data["path"]).read_text() == "a,b\n"

    time.sleep(0.01)
    (tmp_path / "sub" / "new file.csv").write_text("a,b\n1,2\n")
    [changed] = settle(watcher)
    assert changed["type"] == CREATED_TYPE and changed["id"] != created["id"]

    (tmp_path / "old.txt").unlink()
    [deleted] = settle(watcher)
    assert deleted["type"] == DELETED_TYPE and storage.object_event(deleted).action == "deleted"
    assert settle(watcher) == []


def test_a_file_is_reported_only_after_it_held_still(tmp_path: Path) -> None:
    watcher = FolderWatcher(tmp_path)
    path = tmp_path / "growing.bin"
    path.write_bytes(b"x")
    assert watcher.poll() == []
    path.write_bytes(b"xx")  # still being written
    assert watcher.poll() == []
    [event] = watcher.poll()
    assert event.data["size"] == 2


def test_hidden_files_are_ignored_and_ids_are_stable(tmp_path: Path) -> None:
    (tmp_path / ".partial").write_text("x")
    (tmp_path / "a.txt").write_text("x")
    first = FolderWatcher(tmp_path, report_existing=True)
    second = FolderWatcher(tmp_path, report_existing=True)
    ids = [e["id"] for e in settle(first)]
    assert len(ids) == 1 and ids == [e["id"] for e in settle(second)]


def test_dev_delivers_dropped_files_to_the_served_handler_and_stops_cleanly(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PORTABLE_STORE": f"sqlite:///{tmp_path / 'store.db'}",
        "PORTABLE_DLQ": f"sqlite:///{tmp_path / 'dlq.db'}",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "portable",
            "dev",
            "samples.hello:app",
            "--folder",
            str(inbox),
            "--interval",
            "0.1",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "watching" in line:
                break
        (inbox / "photo.jpg").write_bytes(b"\xff\xd8 jpeg")
        for line in proc.stdout:
            lines.append(line)
            if "photo.jpg" in line:
                break
        assert "processed" in lines[-1] and "portable.local.storage.object.created" in lines[-1]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # nothing it started is left behind
    leftover = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""


@pytest.mark.parametrize("folder", ["missing"])
def test_watching_a_missing_folder_is_a_clear_error(tmp_path: Path, folder: str) -> None:
    with pytest.raises(FileNotFoundError, match="no folder"):
        FolderWatcher(tmp_path / folder)
