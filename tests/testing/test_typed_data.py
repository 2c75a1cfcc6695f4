"""Typed data: a route declares a pydantic model or a dataclass for ``event.data``; the
handler gets it parsed, and data that does not fit is dead-lettered with the reason."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest
from cloudevents.http import CloudEvent
from pydantic import BaseModel, Field

from portable import App, DataValidationError, PermanentError, handler, testing

PLACED = "com.example.order.placed"


class Item(BaseModel):
    sku: str
    quantity: int = Field(ge=1)


class Order(BaseModel):
    order_id: str
    items: list[Item]


@dataclass
class Signup:
    email: str
    plan: str = "free"


def placed(data: object) -> dict[str, object]:
    return testing.pubsub_push(data, attributes={"ce-id": "o-1", "ce-source": "/shop",
                                                  "ce-type": PLACED, "ce-specversion": "1.0",
                                                  "content-type": "application/json"})


def test_a_pydantic_model_is_parsed_and_passed_beside_the_event() -> None:
    app = App("orders")
    received: list[tuple[str, Order]] = []

    @app.on(PLACED, data=Order)
    def accept(event: CloudEvent, order: Order) -> int:
        received.append((event["id"], order))
        return sum(item.quantity for item in order.items)

    report = testing.run(app, placed({"order_id": "o-1", "items": [{"sku": "tea",
                                                                     "quantity": "2"}]}),
                         via="gcp-push")
    assert report.processed == ["o-1"]
    [(event_id, order)] = received
    assert event_id == "o-1" and order.items[0].quantity == 2  # converted from "2"


def test_data_that_does_not_fit_the_model_is_dead_lettered_with_the_reason() -> None:
    app = App("orders")
    called: list[Order] = []
    app.on(PLACED, data=Order)(lambda event, order: called.append(order))

    report = testing.run(app, placed({"order_id": "o-1", "items": [{"sku": "tea",
                                                                     "quantity": 0}]}),
                         via="gcp-push", attempts=3)
    assert called == [] and report.dead_lettered == ["o-1"] and report.deliveries == 1
    [letter] = report.dead_letters
    assert letter.error["type"].endswith(".DataValidationError")
    assert letter.error["retryable"] is False
    assert "not a valid Order" in letter.error["message"]
    assert "items.0.quantity: Input should be greater than or equal to 1" in (
        letter.error["message"])
    assert letter.cloudevent().get_data()["items"][0]["quantity"] == 0  # kept as it arrived


def test_a_dataclass_is_built_from_the_data() -> None:
    @handler(data=Signup)
    def welcome(event: CloudEvent, signup: Signup) -> str:
        return f"{signup.email}:{signup.plan}"

    report = testing.run(welcome, testing.queue_message({"email": "a@example.com"}),
                         via="azure-queue")
    assert len(report.processed) == 1
    assert welcome(event_with({"email": "b@example.com", "plan": "pro"})) == (
        "b@example.com:pro")


def test_a_dataclass_missing_a_field_or_given_an_unknown_one_is_refused() -> None:
    welcome = handler(data=Signup)(lambda event, signup: None)
    for data in ({"plan": "pro"}, {"email": "a@example.com", "color": "red"}, ["a"]):
        with pytest.raises(DataValidationError, match="not a valid Signup"):
            welcome(event_with(data))
    assert issubclass(DataValidationError, PermanentError)


def test_json_text_data_is_decoded_before_parsing() -> None:
    welcome = handler(data=Signup)(lambda event, signup: signup.email)
    assert welcome(event_with('{"email": "c@example.com"}', "text/plain")) == "c@example.com"
    with pytest.raises(DataValidationError, match="not JSON"):
        welcome(event_with("not json", "text/plain"))


def test_only_models_and_dataclasses_can_be_declared() -> None:
    with pytest.raises(TypeError, match="pydantic model or a dataclass"):
        App().on(PLACED, data=dict)
    with pytest.raises(TypeError, match="pydantic model or a dataclass"):
        handler(data=int)


def test_pydantic_is_not_imported_until_a_model_is_declared() -> None:
    code = ("import sys, portable, portable._typed, portable._app; from dataclasses import "
            "dataclass\n@dataclass\nclass D:\n    x: int\n"
            "portable.handler(data=D)(lambda e, d: d)\nprint('pydantic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def event_with(data: object, content_type: str = "application/json") -> CloudEvent:
    from portable import new_event

    return new_event({"id": "e-1", "source": "/test", "type": PLACED,
                      "datacontenttype": content_type}, data)
