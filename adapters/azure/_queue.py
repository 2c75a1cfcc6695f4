"""A Storage queue read as a list: what a dead-letter queue needs and a queue does not offer.

A queue has no random access: ``peek`` shows at most the first 32 visible messages, and only
a receive returns the pop receipt that a delete needs. So:

* **reading** peeks when the queue holds fewer than 32 messages (no side effects); otherwise
  it *scans*: receives every message, 32 at a time, with a short visibility timeout, then makes
  each visible again at once, in the order received (which keeps the queue's order);
* **deleting** scans and deletes the chosen messages, making the others visible again.

During a scan the messages are hidden from other readers for at most :data:`SCAN_VISIBILITY`
seconds; should the scanner die, they reappear by themselves. Each scan raises the messages'
dequeue count: no queue trigger may listen on a dead-letter queue.

Message text: dead letters are written base64-encoded (the encoding the Functions queue
trigger expects by default, and safe for any JSON); both base64 and plain JSON are read.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from . import _errors

PEEK_LIMIT = 32
SCAN_VISIBILITY = 30
MESSAGE_LIMIT = 64 * 1024
"""Bytes of message text the service accepts (the base64 text of 48 KiB)."""


def messages(client: Any) -> list[Any]:
    """Every visible message, in queue order, left in the queue as it was."""
    peeked = list(client.peek_messages(max_messages=PEEK_LIMIT))
    if len(peeked) < PEEK_LIMIT:
        return peeked
    received = _receive_all(client)
    _release(client, received)
    return received


def delete_where(client: Any, chosen: Callable[[Any], bool]) -> int:
    """Delete the messages ``chosen`` picks; the others stay. Returns how many were deleted."""
    received = _receive_all(client)
    keep, deleted = [], 0
    for message in received:
        if not chosen(message):
            keep.append(message)
        elif _gone_is_fine(client.delete_message, message):
            deleted += 1
    _release(client, keep)
    return deleted


def encode(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def decode(content: Any) -> str:
    """Message text as written by :func:`encode`, by the host, or by hand (plain JSON)."""
    text = content.decode("utf-8") if isinstance(content, bytes) else str(content or "")
    if text.lstrip().startswith(("{", "[")):
        return text
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return text


def _receive_all(client: Any) -> list[Any]:
    seen: dict[str, Any] = {}
    pages = client.receive_messages(messages_per_page=PEEK_LIMIT,
                                    visibility_timeout=SCAN_VISIBILITY).by_page()
    for page in pages:
        batch = list(page)
        # A scan longer than the visibility timeout meets its first messages again: stop.
        if not batch or all(message.id in seen for message in batch):
            break
        for message in batch:
            seen[message.id] = message  # the latest pop receipt is the valid one
    return list(seen.values())


def _release(client: Any, received: list[Any]) -> None:
    for message in received:
        _gone_is_fine(lambda m: client.update_message(m, visibility_timeout=0), message)


def _gone_is_fine(operation: Callable[[Any], Any], message: Any) -> bool:
    """Run ``operation`` on a received message; False if another reader took it meanwhile."""
    try:
        operation(message)
    except Exception as exc:
        if _errors.is_code(exc, *_errors.MESSAGE_GONE):
            return False
        raise
    return True
