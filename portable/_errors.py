"""The error hierarchy of portable-functions.

Every error the library raises on purpose is a ``PortableError``::

    PortableError
    ├── PermanentError            retrying cannot help: dead-letter now
    │   ├── MalformedEventError   a delivery that is not a valid CloudEvent / provider payload
    │   ├── NotAStorageEvent      storage.object_event() on a non-storage event
    │   ├── ObjectNotFound        storage.open() of an object that is not there
    │   ├── UnknownRouteError     no route of an App matches the event
    │   ├── DataValidationError   event.data does not fit the route's declared data type
    │   └── IdempotencyKeyReused  same idempotency key, different payload
    ├── RetryableError            transient: retry here or let the platform redeliver
    │   ├── EventInProgress       another worker holds a live claim on this event
    │   ├── StoreUnavailable      the idempotency store could not be reached
    │   ├── SinkUnavailable       the dead-letter sink could not write
    │   └── CircuitOpenError      a circuit breaker is open: fail fast, keep the event
    └── ConfigurationError        bad store/sink URL, missing extra, missing settings

Provider SDK errors are mapped onto this tree in one place per provider (by error code).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


class PortableError(Exception):
    """Base of every error portable-functions raises on purpose."""


class PermanentError(PortableError):
    """Raise from a handler to say: do not retry, dead-letter this event now."""


class MalformedEventError(PermanentError):
    """A delivery that is not a valid CloudEvent or provider payload."""


class NotAStorageEvent(PermanentError):
    """``storage.object_event`` was given an event that is not about a stored object."""


class ObjectNotFound(PermanentError, FileNotFoundError):
    """The object, its bucket or container, or the version an event announced is not there.

    Permanent (retrying cannot bring back an object deleted or overwritten since the event),
    and a FileNotFoundError, so ``except FileNotFoundError`` works for every URL.
    """


class UnknownRouteError(PermanentError):
    """No route of an :class:`~portable.App` matches the event."""


class DataValidationError(PermanentError):
    """``event.data`` does not fit the type a route declared (``app.on(..., data=Model)``)."""


class IdempotencyKeyReused(PermanentError):
    """The same idempotency key arrived with a different payload (payload validation on)."""


class RetryableError(PortableError):
    """Raise from a handler to say: this failure is transient, try again."""


class EventInProgress(RetryableError):
    """Another worker holds a live claim on this event; the platform should redeliver later."""


class StoreUnavailable(RetryableError):
    """The idempotency store could not be reached; the handler was not run unguarded."""


class SinkUnavailable(RetryableError):
    """The dead-letter sink could not write; the delivery fails so nothing is lost."""


class CircuitOpenError(RetryableError):
    """A circuit breaker is open; the event fails fast and stays with the platform."""


class ConfigurationError(PortableError):
    """A store or sink URL, an extra or a setting is missing or wrong."""


def missing_extra(extra: str, module: str) -> ConfigurationError:
    """The error for an optional dependency that is not installed."""
    return ConfigurationError(
        f"{module} is not installed; install it with: pip install 'portable-functions[{extra}]'"
    )


@contextmanager
def translating(belongs: Callable[[BaseException], bool],
                translate: Callable[[BaseException], PortableError]) -> Iterator[None]:
    """Raise the errors of one SDK from the block as portable errors: each provider's single
    place of mapping (``belongs`` recognises its SDK's errors by module, so nothing imports
    the SDK; ``translate`` decides by error code). Other errors pass unchanged."""
    try:
        yield
    except PortableError:
        raise
    except Exception as exc:
        if not belongs(exc):
            raise
        raise translate(exc) from exc
