"""The Azure Storage queue dead-letter sink, and every dead letter Azure makes, in one place.

URL: ``azqueue://QUEUE[?option=value&...]``; options:

=======================  ===============================================================
``create=true``          create QUEUE on first use (local runs, tests)
``connection=SETTING``   the app setting with the storage account (default AzureWebJobsStorage)
``poison=NAME``          the blob trigger's poison queue to read too (default
                         ``webjobs-blobtrigger-poison``; ``poison=`` reads none)
``deadletter_container`` a blob container where Event Grid subscriptions dead-letter: its
``=NAME``                events are read too (default: none)
``target=MODULE:NAME``   the handler (or App) that :meth:`QueueSink.redeliver` runs poison
                         blobs through (default: none; then poison letters are not replayed)
=======================  ===============================================================

So ``PORTABLE_DLQ=azqueue://dead-letters?deadletter_container=eventgrid-dead&target=app:app``
lets ``portable dlq list`` show the pipeline's letters, the host's poison blobs and Event
Grid's dead letters together, oldest first (by the time each was dead-lettered).

**Letters** are written as one message each: the dead letter's JSON, base64-encoded (the
Functions queue trigger's default encoding, and safe for any text), never expiring
(``time_to_live=-1``; the service's default is 7 days). A letter larger than a message (48
KiB of JSON) loses the middle of its traceback first; if it is still too large, ``put`` fails
and the platform keeps the event (its poison queue, which this sink reads, is the last stop).
Reading, deleting and purging work the way :mod:`._queue` describes (queues have no random
access). Putting a letter with the id of an existing one (a replay that failed again)
supersedes it: readers show the newest, and deleting the id removes every copy.

**Poison blobs** (``poison-<message id>``): :meth:`QueueSink.redeliver` runs the blob through
the blob-trigger path of ``target``: it reads the blob's properties, builds the same
``Microsoft.Storage.BlobCreated`` event the trigger builds (same id for the same version) and
runs ``target``'s pipeline on it (the store and retry settings of PORTABLE_STORE and the
handler's options). Success, or a new failure that the pipeline dead-letters into this sink
with the handler's real error, counts as redelivered, and ``portable dlq replay`` deletes the
poison message. If the blob has changed since, its current version is delivered (the
idempotency store skips it when it was processed already); if it is gone, the letter stays.

**Event Grid letters** (``eventgrid-<hash>``) hold the original event: ``portable dlq replay
--handler MODULE:NAME`` runs it through the handler. Deleting one rewrites its blob without it
(under the blob's ETag), or deletes the blob when it was the last entry.
"""

from __future__ import annotations

import builtins
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from portable._app import App, Handler
from portable._context import Context
from portable._deadletter import DeadLetter, Sink
from portable._errors import PermanentError, PortableError, SinkUnavailable
from portable._logging import log
from portable._pipeline import Pipeline

from . import _errors, _platform, _queue, ingress
from ._deliver import deliver
from ._storage import DEFAULT_SETTING, LazyClient, check_name, parse_url, service_client

T = TypeVar("T")

SCHEME = "azqueue"
OPTIONS = frozenset({"create", "connection", "poison", "deadletter_container", "target"})
NEVER_EXPIRES = -1
_EPOCH = datetime.min.replace(tzinfo=UTC)
MESSAGE_JSON_LIMIT = _queue.MESSAGE_LIMIT * 3 // 4
"""Bytes of letter JSON one message holds (base64 makes 4 characters of 3 bytes)."""
_TRACEBACK_TRIMMED = "\n[... traceback cut to fit an Azure Storage queue message ...]\n"


@dataclass(frozen=True)
class _Entry:
    letter: DeadLetter
    at: datetime
    """When it was dead-lettered: the message's insertion time, the blob's last change."""


class QueueSink(Sink):
    def __init__(self, queue: str, *, connection: str = DEFAULT_SETTING, create: bool = False,
                 poison: str | None = _platform.BLOB_POISON_QUEUE,
                 deadletter_container: str | None = None,
                 target: str | App | Handler | None = None) -> None:
        self.queue = check_name("queue", queue)
        self.connection = connection
        self.poison = check_name("queue", poison) if poison else None
        self.deadletter_container = (check_name("container", deadletter_container)
                                     if deadletter_container else None)
        self.target = target
        self._create = create
        self._queues = LazyClient(lambda: service_client("queue", self.connection))
        self._blobs = LazyClient(lambda: service_client("blob", self.connection))
        self._created = False

    @classmethod
    def from_url(cls, url: str) -> QueueSink:
        parsed = parse_url(url, SCHEME, "queue", OPTIONS)
        options = parsed.options
        return cls(parsed.location, connection=options.get("connection") or DEFAULT_SETTING,
                   create=parsed.flag("create"),
                   poison=options.get("poison", _platform.BLOB_POISON_QUEUE) or None,
                   deadletter_container=options.get("deadletter_container") or None,
                   target=options.get("target") or None)

    # -- the Sink seam ----------------------------------------------------------------------

    def put(self, letter: DeadLetter) -> None:
        text = _queue.encode(_fitting_json(letter))
        with self._calls("put"):
            self._letters_queue().send_message(text, time_to_live=NEVER_EXPIRES)

    def list(self, limit: int = 100) -> list[DeadLetter]:
        return [entry.letter for entry in self._entries()][:limit]

    def iter_all(self) -> Iterator[DeadLetter]:
        yield from (entry.letter for entry in self._entries())

    def get(self, letter_id: str) -> DeadLetter | None:
        return next((e.letter for e in self._entries() if e.letter.id == letter_id), None)

    def delete(self, letter_id: str) -> bool:
        return self._delete(lambda letter: letter.id == letter_id) > 0

    def purge(self) -> int:
        return self._delete(lambda letter: True)

    def redeliver(self, letter: DeadLetter, target: str | None = None) -> bool:
        """Run a poison blob through ``target``'s blob-trigger path (see the module doc)."""
        origin = letter.origin or {}
        if origin.get("kind") != _platform.BLOB_POISON:
            return False
        handler = target or self.target
        if handler is None:
            log(logging.WARNING, "poison blob not redelivered: no handler (--handler or target=)",
                provider=_platform.PROVIDER, error=letter.id)
            return False
        try:
            with self._calls("redeliver"):
                return self._redeliver_blob(origin, handler)
        except PortableError as exc:  # replay goes on with the next letter
            log(logging.WARNING, f"poison blob not redelivered: {exc}",
                provider=_platform.PROVIDER, error=letter.id, error_type=type(exc).__name__)
            return False

    def close(self) -> None:
        self._queues.close()
        self._blobs.close()

    # -- reading ----------------------------------------------------------------------------

    def _entries(self) -> Sequence[_Entry]:
        """Every letter of every source, one per id (the newest), oldest first."""
        newest: dict[str, _Entry] = {}
        with self._calls("read"):
            for source in self._sources():
                for entry in source():
                    known = newest.get(entry.letter.id)
                    if known is None or entry.at >= known.at:
                        newest[entry.letter.id] = entry
        # Insertion times have whole seconds: the letter's own time orders ties.
        return sorted(newest.values(), key=lambda entry: (entry.at, entry.letter.last_failure))

    def _sources(self) -> Sequence[Callable[[], Iterator[_Entry]]]:
        sources: builtins.list[Callable[[], Iterator[_Entry]]] = [self._own_entries]
        if self.poison:
            sources.append(self._poison_entries)
        if self.deadletter_container:
            sources.append(self._eventgrid_entries)
        return sources

    def _own_entries(self) -> Iterator[_Entry]:
        for message in _queue.messages(self._letters_queue()):
            yield _Entry(_own_letter(message), message.inserted_on or _EPOCH)

    def _poison_entries(self) -> Iterator[_Entry]:
        client = self._poison_queue()
        messages: builtins.list[Any] = _unless_missing(
            lambda: _queue.messages(client), _errors.QUEUE_MISSING, [])
        for message in messages:
            yield _Entry(self._poison_letter(message), message.inserted_on or _EPOCH)

    def _poison_letter(self, message: Any) -> DeadLetter:
        assert self.poison is not None
        return _platform.poison_letter(message.id, _queue.decode(message.content),
                                       message.inserted_on, self.poison)

    def _eventgrid_entries(self) -> Iterator[_Entry]:
        container = self._container()
        for blob in self._dead_letter_blobs(container):
            content = container.download_blob(blob.name).readall()
            for letter in _platform.eventgrid_letters(container.container_name, blob.name,
                                                      content):
                yield _Entry(letter, blob.last_modified or _EPOCH)

    # -- deleting ---------------------------------------------------------------------------

    def _delete(self, chosen: Callable[[DeadLetter], bool]) -> int:
        """Delete the chosen letters from every source; how many letters (not messages:
        a superseded letter has several) were deleted."""
        deleted: set[str] = set()

        def pick(letter: DeadLetter) -> bool:
            if chosen(letter):
                deleted.add(letter.id)
                return True
            return False

        with self._calls("delete"):
            _queue.delete_where(self._letters_queue(), lambda m: pick(_own_letter(m)))
            if self.poison:
                poison = self._poison_queue()
                _unless_missing(lambda: _queue.delete_where(
                    poison, lambda m: pick(self._poison_letter(m))), _errors.QUEUE_MISSING, 0)
            if self.deadletter_container:
                self._delete_eventgrid(pick)
        return len(deleted)

    def _delete_eventgrid(self, chosen: Callable[[DeadLetter], bool]) -> None:
        """Rewrite each blob without the chosen entries (under its ETag), or delete it."""
        from azure.core import MatchConditions

        container = self._container()
        for blob in self._dead_letter_blobs(container):
            download = container.download_blob(blob.name)
            etag, content = download.properties.etag, download.readall()
            letters = _platform.eventgrid_letters(container.container_name, blob.name, content)
            gone = {letter.id for letter in letters if chosen(letter)}
            if not gone:
                continue
            kept = [entry for entry in _entries_of(content) if _platform.eventgrid_letter_id(
                container.container_name, blob.name, entry) not in gone]
            condition = {"etag": etag, "match_condition": MatchConditions.IfNotModified}
            if kept:
                container.upload_blob(blob.name, json.dumps(kept), overwrite=True, **condition)
            else:
                container.delete_blob(blob.name, **condition)

    # -- redelivery -------------------------------------------------------------------------

    def _redeliver_blob(self, origin: dict[str, Any], handler: Any) -> bool:
        client = self._blobs.get().get_blob_client(origin["container"], origin["blob"])
        try:
            properties = client.get_blob_properties()
        except Exception as exc:
            if _errors.is_code(exc, _errors.BLOB_MISSING, _errors.CONTAINER_MISSING):
                log(logging.WARNING, "poison blob not redelivered: the blob is gone",
                    provider=_platform.PROVIDER, error=f"{origin['container']}/{origin['blob']}")
                return False
            raise
        items = ingress.blob_client_items(client, properties)
        pipeline = self._pipeline(handler)
        same_version = str(properties.etag).strip('"') == str(origin.get("etag")).strip('"')
        for item in items:
            if item.event is not None and same_version:
                # The poisoned version never completed: clear what its attempts left behind.
                pipeline.store.forget(pipeline.key_for(item.event))
        ctx = Context(provider=_platform.PROVIDER, max_attempts=1, raw=client)
        try:
            return all(result.acked for result in deliver(pipeline, items, ctx))
        finally:
            pipeline.store.close()  # its sink is this sink: that stays open

    def _pipeline(self, target: Any) -> Pipeline:
        if isinstance(target, str):
            from portable._serve import load_target

            target = load_target(target)
        assert target is not None
        return Pipeline(target, dlq=self)

    # -- clients ----------------------------------------------------------------------------

    def _letters_queue(self) -> Any:
        client = self._queues.get().get_queue_client(self.queue)
        if self._create and not self._created:
            try:
                client.create_queue()
            except Exception as exc:
                if not _errors.is_code(exc, *_errors.ALREADY_EXISTS):
                    raise
            self._created = True
        return client

    @staticmethod
    def _dead_letter_blobs(container: Any) -> builtins.list[Any]:
        return _unless_missing(lambda: builtins.list(container.list_blobs()),
                               _errors.CONTAINER_MISSING, [])

    def _poison_queue(self) -> Any:
        return self._queues.get().get_queue_client(self.poison)

    def _container(self) -> Any:
        assert self.deadletter_container is not None
        return self._blobs.get().get_container_client(self.deadletter_container)

    def _calls(self, operation: str) -> AbstractContextManager[None]:
        return _errors.mapped(f"Azure Storage queue {self.queue!r} ({operation})",
                              SinkUnavailable)


def _own_letter(message: Any) -> DeadLetter:
    text = _queue.decode(message.content)
    try:
        return DeadLetter.from_json(text)
    except (ValueError, TypeError) as exc:
        return _platform.unreadable(f"message-{message.id}", text, message.inserted_on,
                                    f"message {message.id!r} is not a dead letter: {exc}")


def _fitting_json(letter: DeadLetter) -> str:
    """The letter's JSON, with the middle of its traceback cut if the whole would not fit."""
    text = letter.to_json()
    excess = len(text.encode("utf-8")) - MESSAGE_JSON_LIMIT
    traceback = str(letter.error.get("traceback") or "")
    if excess > 0 and traceback:
        # Each character cut shortens the JSON by at least one byte; the marker adds its own.
        cut = excess + len(json.dumps(_TRACEBACK_TRIMMED))
        head = max(0, (len(traceback) - cut) // 2)
        tail = max(0, len(traceback) - cut - head)
        trimmed = traceback[:head] + _TRACEBACK_TRIMMED + (traceback[-tail:] if tail else "")
        text = replace(letter, error={**letter.error, "traceback": trimmed}).to_json()
    size = len(text.encode("utf-8"))
    if size > MESSAGE_JSON_LIMIT:
        raise PermanentError(
            f"dead letter {letter.id} is {size} bytes of JSON; an Azure Storage queue message "
            f"holds {MESSAGE_JSON_LIMIT}: the event itself is too large for this sink")
    return text


def _entries_of(content: bytes | str) -> list[Any]:
    """The entries of a dead-letter blob (none if it is not JSON: it goes whole)."""
    try:
        value = json.loads(content)
    except ValueError:
        return []
    return value if isinstance(value, list) else [value]


def _unless_missing(action: Callable[[], T], code: str, absent: T) -> T:
    """``action()``, or ``absent`` when the queue or container it works on does not exist."""
    try:
        return action()
    except Exception as exc:
        if _errors.is_code(exc, code):
            return absent
        raise
