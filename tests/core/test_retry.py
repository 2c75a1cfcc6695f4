"""The retry policy: backoff bounds, the budget across layers, classification by error code."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portable import (
    CircuitOpenError,
    Context,
    MemorySink,
    MemoryStore,
    Outcome,
    PermanentError,
    Pipeline,
    RetryPolicy,
    new_event,
)
from portable._classify import Classifier


class FakeClock:
    """Time that only moves when the code under test sleeps or works."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@given(
    st.integers(1, 30), st.floats(0.001, 5), st.floats(0.01, 60), st.randoms(use_true_random=False)
)
def test_full_jitter_backoff_stays_within_its_bounds(
    n: int, initial: float, cap: float, rng: Any
) -> None:
    policy = RetryPolicy(initial_delay=initial, max_delay=cap, rng=rng)
    delay = policy.backoff(n)
    assert 0 <= delay <= min(cap, initial * 2 ** (n - 1))


@settings(max_examples=60, deadline=None)
@given(
    in_process=st.integers(1, 5), platform_limit=st.integers(1, 8), recover_after=st.integers(0, 60)
)
def test_budget_across_layers(in_process: int, platform_limit: int, recover_after: int) -> None:
    """For any limits: the handler runs at most in_process x platform_limit times, and the event
    is either processed or dead-lettered exactly once, never both, never lost."""
    clock = FakeClock()
    runs: list[int] = []

    def handler(event: Any) -> str:
        runs.append(1)
        if len(runs) <= recover_after:
            raise ConnectionError("transient")
        return "ok"

    sink = MemorySink()
    pipeline = Pipeline(
        handler,
        store=MemoryStore(),
        dlq=sink,
        max_attempts=platform_limit,
        retry=RetryPolicy(attempts=in_process, sleep=clock.sleep, clock=clock),
        clock=clock,
    )
    event = new_event({"id": "e", "source": "/s", "type": "t"})
    outcomes = []
    for _ in range(platform_limit + 3):  # the platform redelivers while the delivery fails
        result = pipeline.process(event)
        outcomes.append(result.outcome)
        if result.acked:
            break
    assert len(runs) <= in_process * platform_limit
    finished = [o for o in outcomes if o in (Outcome.PROCESSED, Outcome.DEAD_LETTERED)]
    assert len(finished) == 1
    assert len(sink.list()) == (1 if finished[0] is Outcome.DEAD_LETTERED else 0)
    if recover_after >= in_process * platform_limit:
        assert finished == [Outcome.DEAD_LETTERED]
    else:
        assert finished == [Outcome.PROCESSED]


def test_no_retry_starts_that_cannot_finish_before_the_deadline() -> None:
    clock = FakeClock()
    runs: list[float] = []

    def slow_failure() -> None:
        runs.append(clock.now)
        clock.now += 4.0  # each attempt takes 4 s
        raise TimeoutError("downstream slow")

    policy = RetryPolicy(
        attempts=10, initial_delay=0.1, max_delay=0.1, margin=1.0, sleep=clock.sleep, clock=clock
    )
    with pytest.raises(TimeoutError):
        policy.call(slow_failure, deadline=clock.now + 10.0)
    # attempt 1 ends at +4; attempt 2 would end at ~+8.1 (+1 margin) -> allowed; a third
    # would end past +10 -> not started
    assert len(runs) == 2


def test_permanent_errors_are_not_retried_in_process() -> None:
    calls: list[int] = []

    def bad() -> None:
        calls.append(1)
        raise PermanentError("no")

    with pytest.raises(PermanentError):
        RetryPolicy(attempts=5, sleep=lambda s: None).call(bad)
    assert calls == [1]


def test_open_circuit_keeps_the_event_with_the_platform_even_on_the_last_attempt() -> None:
    sink = MemorySink()

    def handler(event: Any) -> None:
        raise CircuitOpenError("payments open")

    pipeline = Pipeline(handler, store=MemoryStore(), dlq=sink, retry=3)
    event = new_event({"id": "e", "source": "/s", "type": "t"})
    result = pipeline.process(event, Context(attempt=5, max_attempts=5))
    assert result.outcome is Outcome.RETRY and sink.list() == []


class ClientError(Exception):
    """Shaped like botocore.exceptions.ClientError."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}


ClientError.__module__ = "botocore.exceptions"


def google_error(name: str, code: int) -> Exception:
    cls = type(name, (Exception,), {"__module__": "google.api_core.exceptions", "code": code})
    return cls("x")


def azure_error(name: str, status: int | None = None) -> Exception:
    cls = type(name, (Exception,), {"__module__": "azure.core.exceptions", "status_code": status})
    return cls("x")


@pytest.mark.parametrize(
    "error,transient",
    [
        (ClientError("ThrottlingException", 400), True),
        (ClientError("ProvisionedThroughputExceededException", 400), True),
        (ClientError("SlowDown", 503), True),
        (ClientError("AccessDenied", 403), False),
        (ClientError("ValidationException", 400), False),
        (ClientError("InternalError", 500), True),
        (google_error("Aborted", 409), True),
        (google_error("DeadlineExceeded", 504), True),
        (google_error("ResourceExhausted", 429), True),
        (google_error("ServiceUnavailable", 503), True),
        (google_error("NotFound", 404), False),
        (google_error("PermissionDenied", 403), False),
        (azure_error("ServiceRequestError"), True),
        (azure_error("ServiceResponseError"), True),
        (azure_error("HttpResponseError", 429), True),
        (azure_error("HttpResponseError", 500), True),
        (azure_error("ResourceNotFoundError", 404), False),
        (TimeoutError(), True),
        (ConnectionResetError(), True),
        (ValueError("bad input"), False),
        (KeyError("field"), False),
        (RuntimeError("unknown"), True),
    ],
)
def test_classification_by_error_code(error: Exception, transient: bool) -> None:
    assert Classifier().is_transient(error) is transient


def test_users_extend_both_lists() -> None:
    class Flaky(ValueError):
        pass

    class Fatal(RuntimeError):
        pass

    classifier = Classifier(transient=[Flaky], permanent=[Fatal])
    assert classifier.is_transient(Flaky()) and not classifier.is_transient(Fatal())
