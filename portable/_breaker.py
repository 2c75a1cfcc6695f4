"""A circuit breaker per downstream dependency: closed -> open -> half-open -> closed.

    payments = CircuitBreaker("payments", store="redis://...")   # shared by every instance

    def handle(event):
        with payments:
            call_payments(event.data)

While open, entering raises CircuitOpenError at once: the event fails as retryable and stays
with the platform (it is never dead-lettered for it). After ``reset_timeout`` one trial call
is let through (half-open); its success closes the breaker, its failure opens it again.
Only transient failures count; a permanent error says nothing about the dependency's health.

The state is a small JSON value, kept in memory or in a store's shared slot so that several
instances agree (last writer wins: a breaker needs agreement, not exactness).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ._classify import Classifier
from ._errors import CircuitOpenError
from ._store import MemoryStore, Store

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        store: Store | str | None = None,
        classifier: Classifier | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._store_spec = store
        self._store: Store | None = store if isinstance(store, Store) else None
        self.classifier = classifier or Classifier()
        self.clock = clock
        self._lock = threading.Lock()

    @property
    def store(self) -> Store:
        if self._store is None:
            from ._config import store_from

            self._store = store_from(self._store_spec) if self._store_spec else MemoryStore()
        return self._store

    @property
    def state(self) -> str:
        current = self._read()
        if current["state"] == OPEN and self.clock() >= current["opened_at"] + self.reset_timeout:
            return HALF_OPEN
        return str(current["state"])

    def before_call(self) -> None:
        with self._lock:
            current = self._read()
            if current["state"] == CLOSED:
                return
            now = self.clock()
            if current["state"] == OPEN and now >= current["opened_at"] + self.reset_timeout:
                # Half-open: let this one trial through, keep others out until it reports.
                self._write({"state": HALF_OPEN, "failures": current["failures"], "opened_at": now})
                return
            raise CircuitOpenError(f"circuit {self.name!r} is open; not calling the dependency")

    def record_success(self) -> None:
        with self._lock:
            if self._read() != _CLOSED:
                self._write(dict(_CLOSED))

    def record_failure(self, exc: BaseException) -> None:
        if not self.classifier.is_transient(exc):
            return
        with self._lock:
            current = self._read()
            failures = int(current["failures"]) + 1
            if current["state"] == HALF_OPEN or failures >= self.failure_threshold:
                self._write({"state": OPEN, "failures": failures, "opened_at": self.clock()})
            else:
                self._write({"state": CLOSED, "failures": failures, "opened_at": 0})

    def __enter__(self) -> CircuitBreaker:
        self.before_call()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.record_success()
        elif not isinstance(exc, CircuitOpenError):
            self.record_failure(exc)

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Use as a decorator around a function that calls the dependency."""

        def guarded(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        guarded.__name__ = getattr(fn, "__name__", "guarded")
        guarded.__doc__ = fn.__doc__
        return guarded

    def _slot(self) -> str:
        return f"breaker:{self.name}"

    def _read(self) -> dict[str, Any]:
        raw = self.store.slot_get(self._slot())
        return dict(_CLOSED) if raw is None else dict(json.loads(raw))

    def _write(self, value: dict[str, Any]) -> None:
        # Kept well past the reset timeout so an open breaker is not forgotten early.
        self.store.slot_set(
            self._slot(), json.dumps(value), ttl=max(3600.0, self.reset_timeout * 10)
        )


_CLOSED: dict[str, Any] = {"state": CLOSED, "failures": 0, "opened_at": 0}
