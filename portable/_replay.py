"""Replaying dead letters: through the handler again, or to a URL.

A letter is deleted only after its event succeeded; one that fails again stays, with the new
error, one more attempt and a new last-failure time. A letter a platform dead-lettered itself
(``origin``) goes back to where it came from when its sink knows how (``Sink.redeliver``).
A letter that holds only a raw delivery (there was no valid CloudEvent) cannot be replayed:
it is reported, not deleted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ._deadletter import DeadLetter, Sink, describe_error
from ._pipeline import Outcome, Pipeline


@dataclass
class ReplayReport:
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0


def replay(
    sink: Sink,
    letter_ids: list[str] | None,
    *,
    url: str | None = None,
    target: str | None = None,
    echo: Callable[[str], Any] = print,
) -> ReplayReport:
    letters = _select(sink, letter_ids, echo)
    report = ReplayReport()
    pipelines: dict[str, Pipeline] = {}
    for letter in letters:
        if letter.origin and not url and _sent_back(sink, letter, target, report, echo):
            continue
        event = letter.cloudevent()
        if event is None:
            report.skipped += 1
            echo(f"{letter.id}: raw delivery without a valid CloudEvent; fix it and resend")
            continue
        try:
            if url:
                _post(url, letter)
            else:
                name = target or letter.handler
                if name not in pipelines:
                    from ._serve import load_target

                    pipelines[name] = Pipeline(
                        load_target(name), dlq=sink, name=letter.handler or None
                    )
                result = pipelines[name].process(event, replay=True)
                if result.outcome is not Outcome.PROCESSED:
                    raise result.error or RuntimeError(f"outcome {result.outcome.value}")
        except Exception as exc:  # noqa: BLE001 - recorded on the letter
            report.failed += 1
            sink.put(_failed_again(letter, exc))
            echo(f"{letter.id}: failed again: {type(exc).__name__}: {exc}")
            continue
        sink.delete(letter.id)
        report.succeeded += 1
        echo(f"{letter.id}: replayed {event.get('type')} {event.get('id')}")
    return report


def _sent_back(sink: Sink, letter: DeadLetter, target: str | None, report: ReplayReport,
               echo: Callable[[str], Any]) -> bool:
    """Send a letter the platform dead-lettered itself back where it came from. True when
    that was tried (a failure leaves the letter untouched: it is the platform's record);
    False when the sink cannot, and the letter's CloudEvent is replayed like any other."""
    source = (letter.origin or {}).get("source", "its source")
    try:
        sent = sink.redeliver(letter, target)
    except Exception as exc:  # noqa: BLE001 - reported; the letter stays
        report.failed += 1
        echo(f"{letter.id}: could not send it back to {source}: {type(exc).__name__}: {exc}")
        return True
    if sent:
        sink.delete(letter.id)
        report.succeeded += 1
        echo(f"{letter.id}: sent back to {source}")
    return sent


def _select(
    sink: Sink, letter_ids: list[str] | None, echo: Callable[[str], Any]
) -> list[DeadLetter]:
    if letter_ids is None:
        return list(sink.iter_all())
    letters = []
    for letter_id in letter_ids:
        letter = sink.get(letter_id)
        if letter is None:
            echo(f"{letter_id}: no such dead letter")
        else:
            letters.append(letter)
    return letters


def _failed_again(letter: DeadLetter, exc: BaseException) -> DeadLetter:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    from ._classify import Classifier

    return replace(
        letter,
        error=describe_error(exc, Classifier().is_transient(exc)),
        attempts=letter.attempts + 1,
        last_failure=now,
    )


def _post(url: str, letter: DeadLetter) -> None:
    import urllib.request

    body = json.dumps(letter.event).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/cloudevents+json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - user's URL
        if not 200 <= response.status < 300:
            raise RuntimeError(f"{url} answered {response.status}")
