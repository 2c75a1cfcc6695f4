"""`portable dlq list | show | replay | purge` on the local sink."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from portable import DeadLetter, PermanentError, new_event
from portable._cli import main
from portable._sqlite import SQLiteSink

HANDLER = """
import os
from portable import PermanentError

def handle(event):
    if os.environ.get("STILL_BROKEN"):
        raise PermanentError("still broken")
    with open("replayed.txt", "a") as out:
        out.write(event["id"] + "\\n")
"""


@pytest.fixture()
def sink(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> SQLiteSink:
    (isolated_env / "replay_handler.py").write_text(HANDLER)
    monkeypatch.syspath_prepend(str(isolated_env))
    url = f"sqlite:///{isolated_env / 'dlq.db'}"
    monkeypatch.setenv("PORTABLE_DLQ", url)
    monkeypatch.setenv("PORTABLE_STORE", f"sqlite:///{isolated_env / 'store.db'}")
    sink = SQLiteSink(url)
    for n in (1, 2):
        event = new_event({"id": f"ev-{n}", "source": "/s", "type": "com.example.t"}, {"n": n})
        sink.put(
            DeadLetter.build(
                PermanentError(f"boom {n}"),
                retryable=False,
                event=event,
                handler="replay_handler:handle",
                provider="local",
            )
        )
    sink.put(DeadLetter.build(ValueError("not JSON"), retryable=False, raw=b"\xff\x00garbage"))
    return sink


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_list_and_show(sink: SQLiteSink) -> None:
    result = run("dlq", "list")
    assert result.exit_code == 0
    assert result.output.count("com.example.t") == 2 and "raw delivery" in result.output
    letter_id = sink.list()[0].id
    shown = json.loads(run("dlq", "show", letter_id).output)
    assert shown["event"]["id"] == "ev-1" and shown["error"]["message"] == "boom 1"
    assert "Traceback" in shown["error"]["traceback"] or shown["error"]["traceback"]
    assert run("dlq", "show", "nope").exit_code != 0


def test_raw_letter_keeps_undecodable_bytes(sink: SQLiteSink) -> None:
    raw = [lt for lt in sink.list() if lt.event is None][0]
    assert raw.raw_bytes() == b"\xff\x00garbage" and raw.raw_encoding == "base64"


def test_replay_runs_the_handler_and_removes_only_successes(
    sink: SQLiteSink, isolated_env: Path
) -> None:
    result = run("dlq", "replay", "--all")
    assert "replayed 2, still failing 0, not replayable 1" in result.output
    assert result.exit_code == 1  # the raw letter could not be replayed
    assert (isolated_env / "replayed.txt").read_text().split() == ["ev-1", "ev-2"]
    assert [lt.event is None for lt in sink.list()] == [True]


def test_replay_that_fails_again_keeps_the_letter_with_its_new_error(
    sink: SQLiteSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STILL_BROKEN", "1")
    first = sink.list()[0]
    result = run("dlq", "replay", first.id)
    assert "still failing 1" in result.output
    again = sink.get(first.id)
    assert again is not None and again.error["message"] == "still broken"
    assert again.attempts == first.attempts + 1


def test_purge(sink: SQLiteSink) -> None:
    assert "purged 3" in run("dlq", "purge", "--yes").output
    assert sink.list() == []


def test_platform_dead_letters_go_back_to_their_source(isolated_env: Path) -> None:
    from portable import MemorySink
    from portable._replay import replay

    class RedrivingSink(MemorySink):
        def __init__(self) -> None:
            super().__init__()
            self.sent: list[str] = []

        def redeliver(self, letter: DeadLetter, target: str | None = None) -> bool:
            self.sent.append(letter.id)
            return True

    sink = RedrivingSink()
    letter = DeadLetter.build(RuntimeError("poison"), retryable=True, raw=b"{}")
    letter.origin = {"source": "arn:aws:sqs:us-east-1:1:orders"}
    sink.put(letter)
    report = replay(sink, None, echo=lambda line: None)
    assert (report.succeeded, sink.sent, sink.list()) == (1, [letter.id], [])


def test_a_failed_send_back_is_reported_and_the_letter_stays(isolated_env: Path) -> None:
    from portable import MemorySink
    from portable._replay import replay

    class BrokenRedrive(MemorySink):
        def redeliver(self, letter: DeadLetter, target: str | None = None) -> bool:
            raise ConnectionError("source queue unreachable")

    sink = BrokenRedrive()
    letter = DeadLetter.build(RuntimeError("poison"), retryable=True, raw=b"{}")
    letter.origin = {"source": "arn:aws:sqs:us-east-1:1:orders"}
    sink.put(letter)
    lines: list[str] = []
    report = replay(sink, None, echo=lines.append)
    assert report.failed == 1 and [x.id for x in sink.list()] == [letter.id]
    assert "source queue unreachable" in lines[0]


def test_purge_removes_more_letters_than_one_page(isolated_env: Path) -> None:
    sink = SQLiteSink(f"sqlite:///{isolated_env / 'many.db'}")
    for n in range(1100):
        sink.put(DeadLetter.build(ValueError(str(n)), retryable=False, raw=b"x"))
    assert sink.purge() == 1100 and sink.list() == []
    for n in range(1001):
        sink.put(DeadLetter.build(ValueError(str(n)), retryable=False, raw=b"x"))
    from portable import Sink

    assert Sink.purge(sink) == 1001  # the default, page-free implementation
