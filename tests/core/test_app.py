"""Routing: by CloudEvent type (exact, prefix) and by storage action."""

from __future__ import annotations

from typing import Any

import pytest

from portable import App, UnknownRouteError, handler, new_event, storage


def ev(event_type: str, data: Any = None, **attrs: Any) -> Any:
    return new_event({"id": "1", "source": "/s", "type": event_type, **attrs}, data)


GCS_CREATED = ev(
    "google.cloud.storage.object.v1.finalized", {"bucket": "b", "name": "k", "size": "3"}
)
GCS_DELETED = ev("google.cloud.storage.object.v1.deleted", {"bucket": "b", "name": "k"})


def test_routes_by_exact_type_prefix_and_storage_action() -> None:
    app = App()
    app.on("com.example.order.created")(lambda e: "exact")
    app.on("com.example.*")(lambda e: "prefix")
    app.on(storage.CREATED)(lambda e: "created")
    app.on(storage.DELETED)(lambda e: "deleted")
    assert app(ev("com.example.order.created")) == "exact"
    assert app(ev("com.example.order.cancelled")) == "prefix"
    assert app(GCS_CREATED) == "created"
    assert app(GCS_DELETED) == "deleted"


def test_first_registered_route_wins() -> None:
    app = App()
    app.on("a.*")(lambda e: "first")
    app.on("a.b")(lambda e: "second")
    assert app(ev("a.b")) == "first"


def test_unmatched_event_is_a_clear_permanent_error_unless_ignored() -> None:
    app = App()
    app.on("a.b")(lambda e: None)
    with pytest.raises(UnknownRouteError, match="'x.y'.*a.b"):
        app(ev("x.y"))
    relaxed = App(ignore_unmatched=True)
    assert relaxed(ev("x.y")) is None


def test_default_route_catches_the_rest() -> None:
    app = App()
    app.on(storage.ARCHIVED)(lambda e: "archived")
    app.default(lambda e: "default")
    assert app(ev("anything")) == "default"


def test_handler_decorator_keeps_the_function_callable_with_options() -> None:
    @handler(retry=5)
    def double(e: Any) -> int:
        return int(e.data) * 2

    assert double(ev("t", 21)) == 42
    assert double.options == {"retry": 5}
    assert double.display_name.endswith(
        ":test_handler_decorator_keeps_the_function_callable_with_options.<locals>.double"
    )


def test_callable_objects_get_a_stable_name_across_cold_starts() -> None:
    from portable import Pipeline

    class Handler:
        def __call__(self, e: Any) -> None:
            return None

    first = Pipeline(Handler(), store="memory://", dlq="memory://")
    second = Pipeline(Handler(), store="memory://", dlq="memory://")
    assert first.name == second.name and "0x" not in first.name
    event = ev("t")
    assert first.key_for(event) == second.key_for(event)
