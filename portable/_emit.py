"""Events a handler publishes, with ids that survive retries.

``emit`` builds the CloudEvent to publish; inside a handler its id is derived from the event
being handled and the number of events emitted so far in this call of the handler
(:meth:`portable.Context.next_id`), so a handler that fails after publishing and runs again
publishes the same ids, and consumers deduplicate them::

    @app.on("com.example.order.placed")
    def accept(event):
        aws.publish(portable.emit("com.example.order.accepted", {"order": ...},
                                  source="/orders"), queue_url)

The adapters' ``publish`` functions call :func:`with_id`, which fills the id of an event that
has none (``del event["id"]``) the same way.
"""

from __future__ import annotations

from typing import Any

from cloudevents.http import CloudEvent

from ._context import context
from ._events import new_event


def emit(type: str, data: Any = None, *, source: str, **attributes: Any) -> CloudEvent:  # noqa: A002
    """A CloudEvent to publish: ``type``, ``source``, ``data`` and any other attributes
    (``subject=``, ``datacontenttype=``, extensions; None values are left out). Its ``id``,
    unless given, is the next stable id of the handler being run (a random one outside a
    handler)."""
    attributes.setdefault("id", None)
    if attributes["id"] is None:
        attributes["id"] = context().next_id()
    return new_event({**attributes, "type": type, "source": source}, data)


def with_id(event: CloudEvent) -> CloudEvent:
    """``event``, given the next stable id if it has none (what the adapters' publish do)."""
    if not event.get("id"):
        event["id"] = context().next_id()
    return event
