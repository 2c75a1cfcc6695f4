"""The circuit breaker's state machine, in memory and shared through a store's slot."""

from __future__ import annotations

from pathlib import Path

import pytest

from portable import CircuitBreaker, CircuitOpenError, PermanentError
from portable._breaker import CLOSED, HALF_OPEN, OPEN
from portable._sqlite import SQLiteStore


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fail(breaker: CircuitBreaker, error: Exception | None = None) -> None:
    with pytest.raises(type(error or ConnectionError())), breaker:
        raise error or ConnectionError("down")


def test_opens_after_the_threshold_and_fails_fast() -> None:
    clock = Clock()
    breaker = CircuitBreaker("db", failure_threshold=3, reset_timeout=10, clock=clock)
    for _ in range(2):
        fail(breaker)
    assert breaker.state == CLOSED
    fail(breaker)
    assert breaker.state == OPEN
    with pytest.raises(CircuitOpenError), breaker:
        pytest.fail("the dependency must not be called while open")


def test_half_open_trial_closes_on_success_and_reopens_on_failure() -> None:
    clock = Clock()
    breaker = CircuitBreaker("db", failure_threshold=1, reset_timeout=10, clock=clock)
    fail(breaker)
    clock.now = 10
    assert breaker.state == HALF_OPEN
    fail(breaker)  # the trial fails: open again
    assert breaker.state == OPEN
    clock.now = 25
    with breaker:
        pass  # the trial succeeds
    assert breaker.state == CLOSED


def test_only_one_trial_goes_through_while_half_open() -> None:
    clock = Clock()
    breaker = CircuitBreaker("db", failure_threshold=1, reset_timeout=5, clock=clock)
    fail(breaker)
    clock.now = 6
    breaker.before_call()  # the trial
    with pytest.raises(CircuitOpenError):
        breaker.before_call()


def test_permanent_errors_do_not_count() -> None:
    breaker = CircuitBreaker("db", failure_threshold=1)
    fail(breaker, PermanentError("bad input"))
    assert breaker.state == CLOSED


def test_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker("db", failure_threshold=2)
    fail(breaker)
    with breaker:
        pass
    fail(breaker)
    assert breaker.state == CLOSED


def test_instances_sharing_a_store_agree(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first = CircuitBreaker("payments", failure_threshold=2, store=SQLiteStore(url))
    second = CircuitBreaker("payments", failure_threshold=2, store=SQLiteStore(url))
    fail(first)
    fail(second)
    assert first.state == OPEN and second.state == OPEN
    with pytest.raises(CircuitOpenError):
        second.before_call()


def test_decorator_form() -> None:
    breaker = CircuitBreaker("api", failure_threshold=1)

    @breaker
    def call() -> None:
        raise TimeoutError("slow")

    with pytest.raises(TimeoutError):
        call()
    with pytest.raises(CircuitOpenError):
        call()
