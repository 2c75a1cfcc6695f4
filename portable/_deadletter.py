"""Dead letters: the record every sink stores, and the sink seam.

A dead letter is plain JSON, readable without this library::

    {"id": "...", "event": {structured CloudEvent} | null, "raw": "..." | null,
     "raw_encoding": "utf-8" | "base64" | null,
     "error": {"type": "...", "message": "...", "traceback": "...", "retryable": false},
     "attempts": 3, "first_failure": "2026-...Z", "last_failure": "2026-...Z",
     "handler": "module:function", "provider": "aws", "key": "..."}

``event`` holds the CloudEvent when there was a valid one; ``raw`` holds the delivery's bytes
otherwise (text when it decodes as UTF-8, base64 when not).
"""

from __future__ import annotations

import base64
import json
import threading
import traceback
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from cloudevents.http import CloudEvent

from . import _events


@dataclass
class DeadLetter:
    error: dict[str, Any]
    event: dict[str, Any] | None = None
    raw: str | None = None
    raw_encoding: str | None = None
    attempts: int = 1
    first_failure: str = ""
    last_failure: str = ""
    handler: str = ""
    provider: str = ""
    key: str | None = None
    origin: dict[str, Any] | None = None
    """Set for letters a platform dead-lettered itself (an SQS redrive DLQ, the blob trigger's
    poison queue, a Pub/Sub dead-letter topic): where it came from, for the sink to redeliver."""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def build(
        cls,
        error: BaseException,
        *,
        retryable: bool,
        event: CloudEvent | None = None,
        raw: bytes | str | None = None,
        attempts: int = 1,
        first_failure: float | None = None,
        handler: str = "",
        provider: str = "",
        key: str | None = None,
    ) -> DeadLetter:
        now = _iso(None)
        raw_text, encoding = _encode_raw(raw)
        return cls(
            error=describe_error(error, retryable),
            event=None if event is None else _events.to_structured(event),
            raw=raw_text,
            raw_encoding=encoding,
            attempts=attempts,
            first_failure=_iso(first_failure) if first_failure else now,
            last_failure=now,
            handler=handler,
            provider=provider,
            key=key,
        )

    def cloudevent(self) -> CloudEvent | None:
        return None if self.event is None else _events.from_structured(self.event)

    def raw_bytes(self) -> bytes | None:
        if self.raw is None:
            return None
        return base64.b64decode(self.raw) if self.raw_encoding == "base64" else self.raw.encode()

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> DeadLetter:
        obj = json.loads(text)
        known = {k: obj[k] for k in cls.__dataclass_fields__ if k in obj}
        return cls(**known)

    def summary(self) -> str:
        what = (self.event or {}).get("type") or "raw delivery"
        error = f"{self.error.get('type')}: {self.error.get('message')}"
        return f"{self.id}  {self.last_failure}  {what}  {error}"


def describe_error(error: BaseException, retryable: bool) -> dict[str, Any]:
    return {
        "type": f"{type(error).__module__}.{type(error).__qualname__}",
        "message": str(error),
        "traceback": "".join(traceback.format_exception(error)),
        "retryable": retryable,
    }


ALL = 2**31 - 1
"""A ``list`` limit that means every letter."""


class Sink(ABC):
    """What ``portable dlq`` and the pipeline need from a dead-letter backend."""

    @abstractmethod
    def put(self, letter: DeadLetter) -> None:
        """Store durably or raise; the pipeline acks only after this returns."""

    @abstractmethod
    def list(self, limit: int = 100) -> list[DeadLetter]:
        """Oldest first."""

    @abstractmethod
    def get(self, letter_id: str) -> DeadLetter | None: ...

    @abstractmethod
    def delete(self, letter_id: str) -> bool: ...

    def purge(self) -> int:
        return sum(self.delete(letter.id) for letter in list(self.iter_all()))

    def iter_all(self) -> Iterator[DeadLetter]:
        """Every letter, oldest first (sinks that can page override this)."""
        yield from self.list(ALL)

    def redeliver(self, letter: DeadLetter, target: str | None = None) -> bool:
        """Send a platform's own dead letter (``letter.origin``) back where it came from.

        ``target`` (``MODULE:HANDLER``, from ``portable dlq replay --handler``) is for letters
        that can only be re-run, not re-sent (a poison blob). Returns False when this sink
        cannot (the default); raise when trying failed. Sinks that read platform dead
        letters (SQS redrive DLQs, poison queues, dead-letter topics) override it.
        """
        return False

    def close(self) -> None:  # noqa: B027 - optional
        """Release connections."""


class _HeldLetter(Protocol):
    @property
    def letter(self) -> DeadLetter: ...


HeldT = TypeVar("HeldT", bound=_HeldLetter)


class HoldingSink(Sink, Generic[HeldT]):
    """A sink read by holding its queue's messages (an SQS queue, a Pub/Sub subscription):
    every letter is held, oldest first, while the caller looks; what the caller removes is
    deleted and the rest given back. A provider gives :meth:`_holding` and :meth:`_remove`;
    listing, finding, deleting and purging are the same for every such queue."""

    @abstractmethod
    def _holding(self) -> AbstractContextManager[Sequence[HeldT]]:
        """Every letter, oldest first, held for the block; what it leaves is given back."""

    @abstractmethod
    def _remove(self, held: Sequence[HeldT]) -> None:
        """Delete these held letters for good."""

    def list(self, limit: int = 100) -> list[DeadLetter]:
        with self._holding() as held:
            return [item.letter for item in held[:limit]]

    def get(self, letter_id: str) -> DeadLetter | None:
        with self._holding() as held:
            return next((item.letter for item in held if item.letter.id == letter_id), None)

    def delete(self, letter_id: str) -> bool:
        with self._holding() as held:
            found = [item for item in held if item.letter.id == letter_id]
            self._remove(found)
            return bool(found)

    def purge(self) -> int:
        with self._holding() as held:
            self._remove(held)
            return len(held)


class MemorySink(Sink):
    """In-process sink (``memory://``), the reference implementation and unit-test fake."""

    def __init__(self) -> None:
        self._letters: dict[str, DeadLetter] = {}
        self._lock = threading.Lock()

    def put(self, letter: DeadLetter) -> None:
        with self._lock:
            self._letters[letter.id] = DeadLetter.from_json(letter.to_json())

    def list(self, limit: int = 100) -> list[DeadLetter]:
        with self._lock:
            return list(self._letters.values())[:limit]

    def get(self, letter_id: str) -> DeadLetter | None:
        with self._lock:
            return self._letters.get(letter_id)

    def delete(self, letter_id: str) -> bool:
        with self._lock:
            return self._letters.pop(letter_id, None) is not None

    def purge(self) -> int:
        with self._lock:
            count = len(self._letters)
            self._letters.clear()
            return count


def _iso(ts: float | None) -> str:
    moment = datetime.now(UTC) if ts is None else datetime.fromtimestamp(ts, UTC)
    return moment.isoformat().replace("+00:00", "Z")


def _encode_raw(raw: bytes | str | None) -> tuple[str | None, str | None]:
    if raw is None:
        return None, None
    if isinstance(raw, str):
        return raw, "utf-8"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"
