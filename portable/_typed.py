"""Typed data: ``event.data`` parsed into the type a route declares.

``app.on("com.example.order.placed", data=Order)`` (or ``@handler(data=Order)``) calls the
handler with two arguments, the CloudEvent and its data as an ``Order``::

    @app.on("com.example.order.placed", data=Order)
    def accept(event: CloudEvent, order: Order) -> None: ...

``Order`` is a pydantic model (v2; pydantic is not a dependency of portable-functions and is
never imported unless a model is declared) or a dataclass. A pydantic model validates and
converts the data (nested models, types); a plain dataclass is built from the data's keys
(missing or unknown keys fail; types are not checked: decorate it with
``pydantic.dataclasses.dataclass`` for that). Data that arrived as JSON text or bytes is
decoded first. Data that does not fit raises :class:`~portable.DataValidationError`, a
PermanentError: the event is dead-lettered at once, with the validation message, and the
handler is not called. The CloudEvent itself is left as it was (its dead letter, idempotency
and payload hash see the data as it arrived).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from cloudevents.http import CloudEvent

from ._errors import DataValidationError


def check_model(model: Any) -> None:
    """Refuse at registration what :func:`parse` could not build."""
    if not (_is_pydantic(model) or (isinstance(model, type) and dataclasses.is_dataclass(model))):
        raise TypeError(f"data= takes a pydantic model or a dataclass, not {model!r}")


def parse(model: type[Any], event: CloudEvent) -> Any:
    """``event``'s data as a ``model``; DataValidationError says what does not fit."""
    data = _decoded(event)
    try:
        if _is_pydantic(model):
            return model.model_validate(data)
        if not isinstance(data, Mapping):
            raise TypeError(f"expected a JSON object, got {type(data).__name__}")
        return model(**data)
    except (TypeError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        raise DataValidationError(
            f"event {event.get('id')!r}: data is not a valid {model.__name__}: {_message(exc)}"
        ) from exc


def _is_pydantic(model: Any) -> bool:
    return isinstance(model, type) and callable(getattr(model, "model_validate", None))


def _decoded(event: CloudEvent) -> Any:
    data = event.get_data()
    if not isinstance(data, bytes | str):
        return data
    try:
        return json.loads(data)
    except ValueError as exc:
        raise DataValidationError(f"event {event.get('id')!r}: data is not JSON: {exc}") from exc


def _message(exc: BaseException) -> str:
    """pydantic's errors as ``field.path: message; ...``; anything else as its text."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or '(data)'}: {error['msg']}"
        for error in errors()
    )
