"""Dead letters Azure makes itself, read as :class:`DeadLetter` s. Pure: no SDK, no calls.

**Blob-trigger poison messages.** After ``maxDequeueCount`` failed attempts (5) the Functions
host gives up on a blob version and writes to ``webjobs-blobtrigger-poison``::

    {"Type": "BlobTrigger", "FunctionId": "<App>.Functions.<Fn>", "BlobType": "BlockBlob",
     "ContainerName": "uploads", "BlobName": "report.csv", "ETag": "\\"0x8D...\\""}

The message says neither the error (it is in the function's logs) nor the content, so the
letter holds the message as its raw delivery, ``event`` None, and ``origin``::

    {"kind": "blobtrigger-poison", "container", "blob", "etag", "function", "queue",
     "source": "blob trigger of uploads/report.csv"}

from which :meth:`adapters.azure.dlq.QueueSink.redeliver` fetches the blob. Its id is
``poison-<message id>``.

**Event Grid dead-letter blobs.** Event Grid writes each event it gave up on to a blob of the
subscription's dead-letter container: the event (either schema) plus ``deadLetterReason``,
``deliveryAttempts``, ``lastDeliveryOutcome``, ``lastHttpStatusCode``, ``publishTime`` and
``lastDeliveryAttemptTime`` (lower-case in the CloudEvents schema); a blob may hold an array.
Each entry is a letter with the event (as the part 1 ingress reads it), the reason as its
error, ``origin`` ``{"kind": "eventgrid-deadletter", "container", "blob", "source"}``, and the
id ``eventgrid-<hash of container, blob and entry>`` (stable, and unchanged when other entries
of the blob are removed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from portable._deadletter import DeadLetter
from portable._entry import BLOB_TRIGGER_ATTEMPTS
from portable._events import content_id, to_structured

from . import ingress
from ._blob import rfc3339

PROVIDER = "azure"
BLOB_POISON_QUEUE = "webjobs-blobtrigger-poison"
BLOB_POISON = "blobtrigger-poison"
EVENTGRID_DEADLETTER = "eventgrid-deadletter"
POISON_PREFIX = "poison-"
EVENTGRID_PREFIX = "eventgrid-"
RETRIES_EXHAUSTED = frozenset({"MaxDeliveryAttemptsExceeded", "TimeToLiveExceeded"})


def poison_letter(message_id: str, text: str, inserted: datetime | None,
                  queue: str = BLOB_POISON_QUEUE) -> DeadLetter:
    """A message of the blob trigger's poison queue (decoded text) -> its dead letter."""
    when = rfc3339(inserted) or ""
    body = _json_object(text)
    fields = {name: body.get(name) for name in ("ContainerName", "BlobName", "ETag")}
    if body.get("Type") != "BlobTrigger" or not all(isinstance(v, str) and v
                                                     for v in fields.values()):
        return _unreadable(f"{POISON_PREFIX}{message_id}", text, when,
                           f"message {message_id!r} of {queue!r} is not a BlobTrigger poison "
                           "message (Type, ContainerName, BlobName, ETag)")
    container, blob, etag = fields["ContainerName"], fields["BlobName"], fields["ETag"]
    function = str(body.get("FunctionId") or "")
    return DeadLetter(
        id=f"{POISON_PREFIX}{message_id}",
        error={
            "type": "BlobTriggerPoison",
            "message": f"the Functions host gave up on blob {container}/{blob} (ETag {etag}) "
                       f"when its attempts (maxDequeueCount) ran out in "
                       f"{function or 'a function'}; the error is in that function's logs",
            "traceback": "",
            "retryable": True,
        },
        raw=text,
        raw_encoding="utf-8",
        attempts=BLOB_TRIGGER_ATTEMPTS,
        first_failure=when,
        last_failure=when,
        handler=function,
        provider=PROVIDER,
        origin={"kind": BLOB_POISON, "container": container, "blob": blob, "etag": etag,
                "function": function, "queue": queue,
                "source": f"blob trigger of {container}/{blob}"},
    )


def eventgrid_letters(container: str, blob: str, content: bytes | str) -> list[DeadLetter]:
    """The entries of one Event Grid dead-letter blob -> their dead letters."""
    letters = []
    for item in ingress.to_items(content):
        fields = {k.lower(): v for k, v in (item.deadletter or {}).items()}
        letters.append(_eventgrid_letter(container, blob, item, fields))
    return letters


def eventgrid_letter_id(container: str, blob: str, entry: Any) -> str:
    return f"{EVENTGRID_PREFIX}{content_id(container, blob, entry)}"


def _eventgrid_letter(container: str, blob: str, item: ingress.Item,
                      fields: Mapping[str, Any]) -> DeadLetter:
    reason = str(fields.get("deadletterreason") or "unknown reason")
    outcome = fields.get("lastdeliveryoutcome")
    status = fields.get("lasthttpstatuscode")
    last = f"; last outcome {outcome}" if outcome else ""
    http = f" (HTTP {status})" if status else ""
    attempts = fields.get("deliveryattempts")
    error: dict[str, Any] = {
        "type": f"EventGrid.{reason}",
        "message": f"Event Grid dead-lettered the event: {reason} after {attempts or '?'} "
                   f"delivery attempt(s){last}{http}",
        "traceback": "",
        "retryable": reason in RETRIES_EXHAUSTED,
    }
    if item.error is not None:
        error["message"] += f"; and it is not a valid event: {item.error}"
    published = str(fields.get("publishtime") or "")
    return DeadLetter(
        id=eventgrid_letter_id(container, blob, item.raw),
        error=error,
        event=None if item.event is None else to_structured(item.event),
        raw=None if item.event is not None else _text(item.payload()),
        raw_encoding=None if item.event is not None else "utf-8",
        attempts=attempts if isinstance(attempts, int) and attempts > 0 else 1,
        first_failure=published,
        last_failure=str(fields.get("lastdeliveryattempttime") or published),
        provider=PROVIDER,
        origin={"kind": EVENTGRID_DEADLETTER, "container": container, "blob": blob,
                "source": f"Event Grid dead-letter blob {container}/{blob}"},
    )


def unreadable(letter_id: str, text: str, when: datetime | None, why: str) -> DeadLetter:
    """What a message that is not a dead letter shows as (so that it can be seen and purged)."""
    return _unreadable(letter_id, text, rfc3339(when) or "", why)


def _unreadable(letter_id: str, text: str, when: str, why: str) -> DeadLetter:
    return DeadLetter(
        id=letter_id,
        error={"type": "UnreadableMessage", "message": why, "traceback": "", "retryable": False},
        raw=text, raw_encoding="utf-8", first_failure=when, last_failure=when,
        provider=PROVIDER)


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _text(payload: bytes | str) -> str:
    return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else payload
