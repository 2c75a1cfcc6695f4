"""The in-process retry policy: exponential backoff with full jitter, bounded by attempts and by
the time the platform has left.

tenacity runs the loop (imported only when a first attempt fails, so the happy path and the
cold start never pay for it); this module is the policy and the budget. No retry starts that
could not finish before the deadline: an attempt is assumed to take as long as the longest one
so far, plus a safety margin.

Effective total: in-process ``attempts`` per delivery times the platform's deliveries. With the
defaults (3 in-process) and Lambda async (3 deliveries), a handler that always fails with a
transient error runs at most 9 times before the event is dead-lettered.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, TypeVar

from ._classify import Classifier
from ._errors import CircuitOpenError

if TYPE_CHECKING:
    import random

T = TypeVar("T")


class RetryPolicy:
    """How a handler call is retried inside one delivery.

    ``attempts``: in-process tries per delivery (1 disables retrying here).
    ``initial_delay`` / ``max_delay``: backoff ``uniform(0, min(max_delay, initial_delay * 2**n))``.
    ``margin``: seconds kept free before the deadline (to record the outcome and answer).
    ``transient`` / ``permanent``: extra exception types for the classifier.
    ``sleep`` / ``clock`` / ``rng``: injectable, so tests never wait on a real clock (``rng``
    defaults to a ``random.Random`` made at the first backoff: cold starts never import random).
    """

    def __init__(
        self,
        attempts: int = 3,
        initial_delay: float = 0.2,
        max_delay: float = 5.0,
        margin: float = 1.0,
        transient: Iterable[type[BaseException]] = (),
        permanent: Iterable[type[BaseException]] = (),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        self.attempts, self.initial_delay, self.max_delay = attempts, initial_delay, max_delay
        self.margin, self.sleep, self.clock, self.rng = margin, sleep, clock, rng
        self.classifier = Classifier(transient, permanent)

    def __repr__(self) -> str:
        return (f"RetryPolicy(attempts={self.attempts}, initial_delay={self.initial_delay}, "
                f"max_delay={self.max_delay}, margin={self.margin})")

    def without_sleeping(self) -> RetryPolicy:
        """The same policy, retrying at once (for test harnesses)."""
        copy = object.__new__(RetryPolicy)
        copy.__dict__.update(self.__dict__, sleep=_no_wait)
        return copy

    def is_transient(self, exc: BaseException) -> bool:
        return self.classifier.is_transient(exc)

    def backoff(self, retry_number: int) -> float:
        """Full jitter: the delay before in-process retry ``retry_number`` (1-based)."""
        ceiling = min(self.max_delay, self.initial_delay * 2 ** (retry_number - 1))
        if self.rng is None:
            import random

            self.rng = random.Random()
        return self.rng.uniform(0, ceiling)

    def call(self, fn: Callable[[], T], deadline: float | None = None) -> T:
        """Run ``fn`` with retries; raise the last error when retrying must stop."""
        started = self.clock()
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - classified below
            if self.attempts == 1 or not self._retryable(exc):
                raise
            first_error, first_duration = exc, self.clock() - started
        return self._retry(fn, first_error, first_duration, deadline)

    def _retryable(self, exc: BaseException) -> bool:
        return not isinstance(exc, CircuitOpenError) and self.is_transient(exc)

    def _retry(
        self,
        fn: Callable[[], T],
        first_error: Exception,
        first_duration: float,
        deadline: float | None,
    ) -> T:
        import tenacity  # lazily: only failures pay for it

        longest = [first_duration]

        def out_of_budget(state: tenacity.RetryCallState) -> bool:
            if state.attempt_number >= self.attempts:
                return True
            if deadline is None:
                return False
            finish = self.clock() + state.upcoming_sleep + max(longest) + self.margin
            return finish > deadline

        def timed() -> T:
            started = self.clock()
            try:
                return fn()
            finally:
                longest.append(self.clock() - started)

        replayed = [False]

        def attempt() -> T:
            # The first attempt already ran on the fast path; replay its error into the loop.
            if not replayed[0]:
                replayed[0] = True
                raise first_error
            return timed()

        retrying = tenacity.Retrying(
            stop=out_of_budget,
            wait=lambda state: self.backoff(state.attempt_number),
            retry=tenacity.retry_if_exception(self._retryable),
            sleep=self.sleep,
            reraise=True,
        )
        result: T = retrying(attempt)
        return result


def policy_from(spec: RetryPolicy | int | None) -> RetryPolicy:
    if isinstance(spec, RetryPolicy):
        return spec
    if spec is None:
        return RetryPolicy()
    return RetryPolicy(attempts=int(spec))


def _no_wait(seconds: float) -> None:
    return None
