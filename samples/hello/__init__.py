"""The demo handler: orders and uploads, written once against CloudEvents.

Serve it locally with ``portable serve samples.hello:app`` (or ``make demo``).
"""

from __future__ import annotations

from typing import Any

from portable import App, CloudEvent, PermanentError, storage

app = App("hello")


@app.on("com.example.order.*")
def on_order(event: CloudEvent) -> dict[str, Any]:
    """Price an order; an order without items can never succeed, so it is dead-lettered."""
    order = event.data or {}
    items = order.get("items") or []
    if not items:
        raise PermanentError(f"order {order.get('order_id')!r} has no items")
    total = sum(item["price"] * item.get("quantity", 1) for item in items)
    return {"order_id": order.get("order_id"), "total": round(total, 2)}


@app.on(storage.CREATED)
def on_upload(event: CloudEvent) -> dict[str, Any]:
    """Describe an uploaded object, whichever cloud (or folder) it landed in."""
    obj = storage.object_event(event)
    return {"provider": obj.provider, "url": obj.url, "size": obj.size}
