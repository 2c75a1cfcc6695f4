"""Handlers and routing.

A handler is a plain function of one CloudEvent. An :class:`App` routes events to handlers by
CloudEvent type (exact, or prefix with a trailing ``*``) or by storage action
(``storage.CREATED`` ...), and carries the options of the pipeline that runs it::

    app = App(store="sqlite:///.portable/idempotency.db")

    @app.on(storage.CREATED)
    def on_upload(event): ...

    @app.on("com.example.order.*")
    def on_order(event): ...

Routes are tried in the order they were registered; the first match wins.

A route may declare the type of its data (a pydantic model or a dataclass, see
``portable._typed``): the handler is then called with the event and its parsed data, and data
that does not fit is dead-lettered as a :class:`~portable.DataValidationError`::

    @app.on("com.example.order.placed", data=Order)
    def on_order(event, order: Order): ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from cloudevents.http import CloudEvent

from . import storage
from ._errors import UnknownRouteError

Handler = Callable[[CloudEvent], Any]
KeyFunction = Callable[[CloudEvent], str]
F = TypeVar("F", bound=Callable[..., Any])


class Route(NamedTuple):
    pattern: str
    handler: Callable[..., Any]
    data: type[Any] | None = None
    """The declared type of ``event.data``: the handler takes (event, parsed data)."""

    def __call__(self, event: CloudEvent) -> Any:
        if self.data is None:
            return self.handler(event)
        from . import _typed  # only handlers that declare a data type pay for it

        return self.handler(event, _typed.parse(self.data, event))

    def matches(self, event: CloudEvent, action: Callable[[], str | None]) -> bool:
        if self.pattern in storage.ACTIONS:
            return action() == self.pattern
        event_type = str(event.get("type"))
        if self.pattern.endswith("*"):
            return event_type.startswith(self.pattern[:-1])
        return event_type == self.pattern


class App:
    """Routes plus pipeline options (store, dlq, retry, key, ...), callable with one event.

    Options (all optional; see :class:`portable.Pipeline` for their meaning): ``store``,
    ``dlq`` (URL or instance), ``retry`` (RetryPolicy or attempts), ``key`` (a function of the
    event giving the idempotency key), ``max_attempts`` (overrides the platform's limit),
    ``validate_payload``, ``ttl``, ``name`` (the handler name in logs, keys and dead letters).
    """

    def __init__(
        self, name: str | None = None, *, ignore_unmatched: bool = False, **options: Any
    ) -> None:
        self.name = name
        self.routes: list[Route] = []
        self.ignore_unmatched = ignore_unmatched
        self.options = options

    def on(self, pattern: str, *, data: type[Any] | None = None) -> Callable[[F], F]:
        """Register a handler for a type (``"a.b"``), a prefix (``"a.*"``) or a storage action.

        ``data``: a pydantic model or dataclass; the handler is called as
        ``handler(event, parsed_data)``."""
        if not pattern:
            raise ValueError("a route needs a CloudEvent type, a 'prefix.*' or a storage action")
        if data is not None:
            from . import _typed

            _typed.check_model(data)

        def register(fn: F) -> F:
            self.routes.append(Route(pattern, fn, data))
            return fn

        return register

    def default(self, fn: Handler) -> Handler:
        """Register the handler for events no other route matches."""
        self.routes.append(Route("*", fn))
        return fn

    def __call__(self, event: CloudEvent) -> Any:
        return self.route(event)(event)

    def resolve(self, event: CloudEvent) -> Callable[..., Any]:
        """The handler function of the route that matches ``event``."""
        return self.route(event).handler

    def route(self, event: CloudEvent) -> Route:
        cache: list[str | None] = []

        def action() -> str | None:
            if not cache:
                cache.append(storage.action_of(event))
            return cache[0]

        for route in self.routes:
            if route.matches(event, action):
                return route
        if self.ignore_unmatched:
            return _IGNORE
        patterns = ", ".join(r.pattern for r in self.routes) or "none"
        raise UnknownRouteError(
            f"no route for CloudEvent type {event.get('type')!r} (routes: {patterns})"
        )

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        if len(self.routes) == 1:
            return _qualname(self.routes[0].handler)
        return "app"


def handler(fn: Handler | None = None, **options: Any) -> Any:
    """Decorator: make a plain function a handler with pipeline options.

    ``@handler`` or ``@handler(retry=5, key=lambda e: e.data["order_id"])``. The result is an
    App with one default route, still callable with an event. ``data=Model``: the function
    takes (event, parsed data), as with ``App.on``.
    """
    data = options.pop("data", None)
    if data is not None:
        from . import _typed

        _typed.check_model(data)

    def wrap(f: Callable[..., Any]) -> App:
        app = App(name=options.pop("name", None) or _qualname(f), **options)
        app.routes.append(Route("*", f, data))
        app.__doc__ = f.__doc__
        return app

    return wrap(fn) if fn is not None else wrap


def as_app(target: App | Handler) -> App:
    """Entries take an App or a plain function; a plain function becomes a one-route App."""
    if isinstance(target, App):
        return target
    if not callable(target):
        raise TypeError(f"a handler must be a function of one CloudEvent or an App, not {target!r}")
    app = App(name=_qualname(target))
    app.default(target)
    return app


def _qualname(fn: Any) -> str:
    """``module:qualname`` of a function, or of a callable object's class: stable across cold
    starts, since it namespaces idempotency keys (never a repr with a memory address)."""
    named = fn if hasattr(fn, "__qualname__") else type(fn)
    return f"{named.__module__}:{named.__qualname__}"


def _ignore(event: CloudEvent) -> None:
    return None


_IGNORE = Route("*", _ignore)
