"""portable._emulators: a process group stopped with nothing left, launchers stopped after
what they wait for, and a failed start explained with its log."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from portable._emulators import (
    EmulatorError,
    Process,
    Running,
    group_members,
    launch,
    ready,
    stop,
)
from portable._net import free_port

# A leader that waits for its child, as gcloud waits for its Java server.
WAITING_LEADER = "sleep 300 & wait"
# A child that ignores SIGTERM (and its own child inherits that), beside a leader that does not.
STUBBORN_CHILD = "sh -c 'trap \"\" TERM; sleep 300' & sleep 300"


def started(tmp_path: Path, script: str, **options: Any) -> Running:
    running = launch(Process("group", ["sh", "-c", script], (), **options), tmp_path)
    deadline = time.monotonic() + 5
    while len(group_members(running.proc.pid)) < 2:
        assert time.monotonic() < deadline, "the child did not start"
        time.sleep(0.02)
    return running


def test_the_named_children_stop_first_and_the_leader_follows(tmp_path: Path) -> None:
    running = started(tmp_path, WAITING_LEADER, stop_first=("sleep",))
    stop(running)
    assert running.proc.returncode == 0  # its wait returned: it was not killed
    assert group_members(running.proc.pid) == []


def test_what_survives_the_leader_is_killed(tmp_path: Path) -> None:
    running = started(tmp_path, STUBBORN_CHILD)
    stop(running, timeout=2)
    assert group_members(running.proc.pid) == []


def test_a_process_that_exits_before_serving_is_explained(tmp_path: Path) -> None:
    spec = Process("flaky-emulator", [sys.executable, "-c", "print('port in use'); exit(3)"],
                   (free_port(),), install="pip install flaky-emulator")
    running = launch(spec, tmp_path)
    with pytest.raises(EmulatorError) as failed:
        ready(running, timeout=10)
    message = str(failed.value)
    assert "flaky-emulator exited with 3 before serving (pip install flaky-emulator)" in message
    assert "port in use" in message


def test_missing_requirements_name_the_install_command() -> None:
    spec = Process("thing", ["thing"], (), install="npm install -g thing",
                   binary="surely-not-on-path", modules=("surely_not_installed",))
    assert spec.missing() == ("thing needs surely-not-on-path, surely_not_installed: "
                              "npm install -g thing")
    assert Process("python", [sys.executable], (), modules=("json",)).missing() is None
