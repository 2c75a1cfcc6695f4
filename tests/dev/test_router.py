"""The served side of `portable dev`: a printed line per pipeline outcome, with the subject,
and the attempt limit the emulated platforms leave to the framework."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portable import App, PermanentError, Pipeline, new_event
from portable._dev_router import DeliveryPrinter, dev_options
from portable._logging import logger
from portable._pipeline import default_key


@pytest.fixture
def printed() -> Iterator[list[str]]:
    lines: list[str] = []
    printer = DeliveryPrinter(lines.append)
    level = logger.level
    logger.addHandler(printer)
    logger.setLevel("INFO")
    try:
        yield lines
    finally:
        logger.removeHandler(printer)
        logger.setLevel(level)


def upload(event_id: str, subject: str) -> object:
    return new_event({"id": event_id, "source": "/bucket", "type": "com.example.uploaded",
                      "subject": subject}, {"size": 1})


def test_each_outcome_is_one_line_with_subject_and_attempt(
        printed: list[str]) -> None:
    lines = printed

    def handle(event: object) -> None:
        if "bad" in str(event["subject"]):  # type: ignore[index]
            raise PermanentError("cannot read it")

    pipeline = Pipeline(handle, store="memory://", dlq="memory://")
    pipeline.process(upload("e1", "photos/cat.jpg"))  # type: ignore[arg-type]
    pipeline.process(upload("e1", "photos/cat.jpg"))  # type: ignore[arg-type]
    pipeline.process(upload("e2", "bad/file.bin"))  # type: ignore[arg-type]
    [letter] = pipeline.sink.list()
    assert [line.split() for line in lines] == [
        ["local", "com.example.uploaded", "photos/cat.jpg", "processed", "attempt", "1"],
        ["local", "com.example.uploaded", "photos/cat.jpg", "duplicate", "attempt", "-"],
        ["local", "com.example.uploaded", "bad/file.bin", "dead_lettered", "attempt", "1",
         "PermanentError:", "cannot", "read", "it", "(portable", "dlq", "show", f"{letter.id})"],
    ]


def test_bad_input_is_printed_without_an_event(printed: list[str]) -> None:
    lines = printed
    Pipeline(lambda event: None, store="memory://", dlq="memory://").dead_letter_raw(
        b"not json", ValueError("not a CloudEvent"))
    assert lines[0].split()[:4] == ["local", "(bad", "input)", "dead_lettered"]


def test_the_framework_gets_the_last_attempt_unless_the_app_says_otherwise() -> None:
    assert dev_options(lambda event: None, {"key": default_key}, 5) == {
        "key": default_key, "max_attempts": 5}
    assert dev_options(App(max_attempts=2), {}, 5) == {}
