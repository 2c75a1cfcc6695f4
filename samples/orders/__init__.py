"""The order flow, written once: an order placed on any cloud's queue or topic is checked,
priced and accepted, and the acceptance is published as a new CloudEvent to wherever
``ORDERS_PUBLISH_TO`` says, on the same cloud or another one (fan-out across clouds).

* In: ``com.example.order.placed`` CloudEvents, data ``{"order_id": ..., "currency": ...,
  "items": [{"sku": ..., "quantity": n, "price": p}, ...]}``, from SQS, SNS, EventBridge, a
  Storage queue, Event Grid, Pub/Sub or a local ``portable serve``.
* Out: ``com.example.order.accepted``, data ``{"order_id", "currency", "items", "total"}``.
  It is built with ``portable.emit``, which derives its id from the placed event's source and
  id (and the handler's name and the sequence of what it publishes): a handler that runs again
  for the same order (an in-process retry, the pipeline lost its completion, or the store was
  wiped) publishes the same event again, with the same id, and a consumer with an idempotency
  store (every portable handler) processes it once. The accepted type is not routed here, so
  publishing to the queue the orders come from cannot loop.
* An order that can never be accepted (no items, a negative price...) raises PermanentError:
  dead-lettered at once, nothing published. A destination that is down, or refused (a
  missing queue, missing rights: ConfigurationError), fails the delivery as retryable: the
  orders wait on their queue until it is fixed, up to the platform's attempt limit.

``ORDERS_PUBLISH_TO``, by scheme (each cloud's own settings give endpoints and credentials):

    sqs://sqs.<region>.amazonaws.com/<account>/<queue>   SQS queue  (adapters.aws.publish)
    arn:aws:sns:... | arn:aws:events:... | arn:aws:sqs:...   SNS topic, event bus, queue
    azqueue://<queue>                                    Azure Storage queue (AzureWebJobsStorage)
    pubsub://projects/<project>/topics/<topic>           Pub/Sub topic
    file:///path/to/folder                               one JSON file per event (local runs)

Unset, it is ``file://`` + ``.portable/outbox`` under the working directory. (An Event Grid
topic needs a credential argument: call ``adapters.azure.publish`` with it from a handler of
your own.)
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from portable import (
    App,
    CloudEvent,
    ConfigurationError,
    PermanentError,
    derived_id,
    emit,
    storage,
    to_json,
)

PLACED = "com.example.order.placed"
ACCEPTED = "com.example.order.accepted"
SOURCE = "/samples/orders"
DESTINATION = "ORDERS_PUBLISH_TO"
LOCAL_OUTBOX = os.path.join(".portable", "outbox")

app = App("orders")


@app.on(PLACED)
def accept_order(event: CloudEvent) -> dict[str, Any]:
    order = _valid_order(event.get_data())
    total = sum((item["price"] * item["quantity"] for item in order["items"]), Decimal(0))
    accepted = emit(ACCEPTED, {"order_id": order["order_id"], "currency": order["currency"],
                               "items": len(order["items"]), "total": str(total)},
                    source=SOURCE, subject=order["order_id"], datacontenttype="application/json")
    destination = os.environ.get(DESTINATION) or "file://" + quote(os.path.abspath(LOCAL_OUTBOX))
    message_id = publish(accepted, destination)
    return {"order_id": order["order_id"], "total": str(total), "published": accepted["id"],
            "to": destination, "message_id": message_id}


def accepted_id(event: CloudEvent) -> str:
    """The id ``emit`` gives the accepted event of ``event``: the same for every run on the
    same placed event, different for any other event."""
    return derived_id(event, app.display_name, 1)


def _valid_order(data: Any) -> dict[str, Any]:
    """The order, with Decimal prices and int quantities; PermanentError says what is wrong."""
    if not isinstance(data, Mapping):
        raise PermanentError(f"an order is a JSON object, not {type(data).__name__}")
    order_id, items = data.get("order_id"), data.get("items")
    if not isinstance(order_id, str) or not order_id:
        raise PermanentError("the order has no order_id")
    if not isinstance(items, list) or not items:
        raise PermanentError(f"order {order_id!r} has no items")
    return {"order_id": order_id, "currency": str(data.get("currency") or "EUR"),
            "items": [_valid_item(order_id, number, item) for number, item in enumerate(items)]}


def _valid_item(order_id: str, number: int, item: Any) -> dict[str, Any]:
    where = f"order {order_id!r}, item {number}"
    if not isinstance(item, Mapping):
        raise PermanentError(f"{where} is not an object")
    quantity = item.get("quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise PermanentError(f"{where}: quantity must be a whole number of at least 1")
    try:
        price = Decimal(str(item.get("price")))
    except InvalidOperation:
        raise PermanentError(f"{where}: price {item.get('price')!r} is not a number") from None
    if not price.is_finite() or price < 0:
        raise PermanentError(f"{where}: price must be zero or more")
    return {"sku": item.get("sku"), "quantity": quantity, "price": price}


# -- publishing by destination URL -----------------------------------------------------------

def _sqs(destination: str) -> str:
    return "https://" + destination.removeprefix("sqs://")


def _pubsub(destination: str) -> str:
    return destination.removeprefix("pubsub://")


def _to_folder(event: CloudEvent, folder: str) -> str:
    storage.write(f"{folder.rstrip('/')}/{event['id']}.json", to_json(event), "application/json")
    return str(event["id"])


# scheme -> (the adapter's publish function, the address it takes). The adapters are imported
# when first used: an app that publishes to Pub/Sub loads no AWS or Azure code.
PUBLISHERS: dict[str, tuple[str, Callable[[str], str]]] = {
    "sqs": ("adapters.aws:publish", _sqs),
    "arn": ("adapters.aws:publish", str),
    "azqueue": ("adapters.azure:publish", str),
    "pubsub": ("adapters.gcp:publish", _pubsub),
}


def publish(event: CloudEvent, destination: str) -> str:
    """Send ``event`` to ``destination`` (a URL of the table above); the message id."""
    scheme = destination.split(":", 1)[0].lower()
    if scheme == "file":
        return _to_folder(event, destination)
    if scheme not in PUBLISHERS:
        raise ConfigurationError(f"{DESTINATION}={destination!r}: unknown destination; use "
                                 f"{', '.join(f'{s}:' for s in [*PUBLISHERS, 'file'])}")
    target, address = PUBLISHERS[scheme]
    module, _, name = target.partition(":")
    send: Callable[[CloudEvent, str], Any] = getattr(importlib.import_module(module), name)
    return str(send(event, address(destination)))
