"""The pipeline's states, as a handler author sees them (DESIGN.md, "The pipeline")."""

from __future__ import annotations

import os
from typing import Any

import pytest

from portable import (
    Context,
    EventInProgress,
    MemorySink,
    MemoryStore,
    Outcome,
    PermanentError,
    Pipeline,
    RetryPolicy,
    SinkUnavailable,
    StoreUnavailable,
    context,
    new_event,
)
from portable._deadletter import DeadLetter


def event(event_id: str = "e-1", data: Any = None) -> Any:
    return new_event(
        {"id": event_id, "source": "/test", "type": "com.example.test"},
        {"n": 1} if data is None else data,
    )


class Recorder:
    """A handler that records its calls and fails as told."""

    def __init__(self, *errors: BaseException) -> None:
        self.calls: list[str] = []
        self.errors = list(errors)

    def __call__(self, ev: Any) -> Any:
        self.calls.append(ev["id"])
        if self.errors:
            raise self.errors.pop(0)
        return {"handled": ev["id"]}


class BrokenSink(MemorySink):
    def put(self, letter: DeadLetter) -> None:
        raise OSError("disk full")


class DownStore(MemoryStore):
    def claim(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("store unreachable")


def pipeline(handler: Any, **options: Any) -> Pipeline:
    options.setdefault("store", MemoryStore())
    options.setdefault("dlq", MemorySink())
    options.setdefault("retry", RetryPolicy(attempts=1))
    return Pipeline(handler, **options)


def test_first_delivery_runs_the_handler_and_returns_its_result() -> None:
    handler = Recorder()
    result = pipeline(handler).process(event())
    assert result.outcome is Outcome.PROCESSED and result.acked
    assert result.value == {"handled": "e-1"}
    assert handler.calls == ["e-1"]


def test_duplicate_returns_the_stored_result_without_calling_the_handler() -> None:
    handler = Recorder()
    p = pipeline(handler)
    p.process(event())
    again = p.process(event())
    assert again.outcome is Outcome.DUPLICATE and again.acked
    assert again.value == {"handled": "e-1"}
    assert handler.calls == ["e-1"]


def test_same_id_from_another_source_is_another_event() -> None:
    handler = Recorder()
    p = pipeline(handler)
    p.process(event())
    other = new_event({"id": "e-1", "source": "/elsewhere", "type": "com.example.test"}, {})
    assert p.process(other).outcome is Outcome.PROCESSED
    assert len(handler.calls) == 2


def test_duplicate_while_in_progress_fails_as_retryable() -> None:
    store = MemoryStore()
    seen: list[Any] = []

    def handler(ev: Any) -> None:
        seen.append(pipeline(Recorder(), store=store, name=p.name).process(ev))

    p = pipeline(handler, store=store)
    assert p.process(event()).outcome is Outcome.PROCESSED
    inner = seen[0]
    assert inner.outcome is Outcome.RETRY and not inner.acked
    assert isinstance(inner.error, EventInProgress)


def test_permanent_failure_is_dead_lettered_at_once_with_its_error() -> None:
    sink = MemorySink()
    handler = Recorder(PermanentError("bad order"))
    p = pipeline(
        handler, dlq=sink, max_attempts=5, retry=RetryPolicy(attempts=3, sleep=lambda s: None)
    )
    result = p.process(event())
    assert result.outcome is Outcome.DEAD_LETTERED and result.acked
    assert handler.calls == ["e-1"]  # never retried
    [letter] = sink.list()
    assert letter.error["message"] == "bad order" and letter.error["retryable"] is False
    assert (
        letter.event is not None
        and letter.event["id"] == "e-1"
        and letter.event["data"] == {"n": 1}
    )
    assert letter.attempts == 1 and letter.handler == p.name
    # a dead-lettered event delivered again is acknowledged without running
    assert p.process(event()).outcome is Outcome.SKIPPED
    assert handler.calls == ["e-1"]


def test_retryable_failure_fails_the_delivery_until_the_last_attempt() -> None:
    sink = MemorySink()
    handler = Recorder(*(ConnectionError("flaky") for _ in range(3)))
    p = pipeline(handler, dlq=sink, max_attempts=3)
    first, second = p.process(event()), p.process(event())
    assert (first.outcome, second.outcome) == (Outcome.RETRY, Outcome.RETRY)
    assert not first.acked and sink.list() == []
    third = p.process(event())
    assert third.outcome is Outcome.DEAD_LETTERED and third.attempt == 3
    [letter] = sink.list()
    assert letter.attempts == 3 and letter.error["retryable"] is True


def test_retryable_failure_that_recovers_on_redelivery_is_processed_once() -> None:
    handler = Recorder(ConnectionError("flaky"))
    p = pipeline(handler, max_attempts=3)
    assert p.process(event()).outcome is Outcome.RETRY
    assert p.process(event()).outcome is Outcome.PROCESSED
    assert p.process(event()).outcome is Outcome.DUPLICATE
    assert handler.calls == ["e-1", "e-1"]


def test_platform_attempt_number_decides_the_last_attempt() -> None:
    sink = MemorySink()
    p = pipeline(Recorder(ConnectionError("down")), dlq=sink)
    result = p.process(event(), Context(provider="aws", attempt=5, max_attempts=5))
    assert result.outcome is Outcome.DEAD_LETTERED and sink.list()[0].attempts == 5


def test_without_a_platform_limit_the_framework_never_dead_letters_a_transient_error() -> None:
    p = pipeline(Recorder(*(ConnectionError("down") for _ in range(50))))
    for receive_count in range(1, 50):
        result = p.process(
            event(), Context(provider="aws", attempt=receive_count, max_attempts=None)
        )
        assert result.outcome is Outcome.RETRY


def test_dead_letter_write_failure_fails_the_delivery_and_loses_nothing() -> None:
    store = MemoryStore()
    handler = Recorder(PermanentError("bad"), PermanentError("bad"))
    broken = pipeline(handler, store=store, dlq=BrokenSink())
    result = broken.process(event())
    assert result.outcome is Outcome.RETRY and not result.acked
    assert isinstance(result.error, SinkUnavailable)
    # the platform redelivers; with the sink back, the event is dead-lettered, not skipped
    sink = MemorySink()
    fixed = pipeline(handler, store=store, dlq=sink, name=broken.name)
    assert fixed.process(event()).outcome is Outcome.DEAD_LETTERED
    assert len(sink.list()) == 1 and handler.calls == ["e-1", "e-1"]


def test_store_outage_fails_the_delivery_without_running_the_handler() -> None:
    handler = Recorder()
    result = pipeline(handler, store=DownStore()).process(event())
    assert result.outcome is Outcome.RETRY and isinstance(result.error, StoreUnavailable)
    assert handler.calls == []


def test_in_process_retries_recover_within_one_delivery() -> None:
    sleeps: list[float] = []
    handler = Recorder(TimeoutError("slow"), ConnectionError("reset"))
    p = pipeline(handler, retry=RetryPolicy(attempts=3, sleep=sleeps.append))
    result = p.process(event())
    assert result.outcome is Outcome.PROCESSED and len(handler.calls) == 3
    assert len(sleeps) == 2 and all(0 <= s <= 5.0 for s in sleeps)


def test_handler_sees_its_invocation_context() -> None:
    seen: list[Context] = []
    p = pipeline(lambda ev: seen.append(context()))
    p.process(event(), Context(provider="gcp", attempt=2, correlation_id="req-9", raw=b"x"))
    assert (seen[0].provider, seen[0].attempt, seen[0].correlation_id, seen[0].raw) == (
        "gcp",
        2,
        "req-9",
        b"x",
    )
    p.process(event("e-2"))
    assert seen[1].provider == "local" and seen[1].attempt == 1  # counted by the store


def test_custom_key_deduplicates_by_business_id() -> None:
    handler = Recorder()
    p = pipeline(handler, key=lambda ev: str(ev.data["order"]))
    p.process(event("a", {"order": 7}))
    assert p.process(event("b", {"order": 7})).outcome is Outcome.DUPLICATE
    assert handler.calls == ["a"]


def test_unknown_pipeline_option_is_refused() -> None:
    with pytest.raises(TypeError, match="retries"):
        Pipeline(Recorder(), store="memory://", dlq="memory://", retries=3)


def test_a_result_with_a_lone_surrogate_is_stored(tmp_path: Any) -> None:
    p = pipeline(lambda ev: {"text": "half \ud800 pair"}, store=f"sqlite:///{tmp_path}/s.db")
    assert p.process(event()).outcome is Outcome.PROCESSED
    again = p.process(event())
    assert again.outcome is Outcome.DUPLICATE and again.value == {"text": "half \ud800 pair"}


def test_claim_tokens_never_repeat_within_a_process_or_across_a_fork() -> None:
    from portable._pipeline import _claim_token

    tokens = {_claim_token() for _ in range(1000)}
    assert len(tokens) == 1000
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first token, then out without pytest's teardown
        os.write(write, _claim_token().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    assert child not in tokens and child[:16] != next(iter(tokens))[:16]  # a new prefix
