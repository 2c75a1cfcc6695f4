"""google-api-core (and google-auth) errors -> portable errors: the one place, by gRPC code.

    NOT_FOUND, PERMISSION_DENIED, UNAUTHENTICATED, no credentials  -> ConfigurationError
        a missing topic, subscription or database, or missing rights: fix the deployment
    transient by portable._classify (ABORTED, UNAVAILABLE, DEADLINE_EXCEEDED, ...)
                                                              -> the caller's RetryableError
        (StoreUnavailable, SinkUnavailable, ...): the platform redelivers
    anything else (INVALID_ARGUMENT, FAILED_PRECONDITION, ...) -> PermanentError

A conditional write that another writer beat (:func:`lost_race`: ALREADY_EXISTS,
FAILED_PRECONDITION, Firestore's contention ABORTED as HTTP 409) is not an error at all: the
store reads again and decides again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from portable._classify import classify_sdk
from portable._errors import (
    ConfigurationError,
    PermanentError,
    PortableError,
    RetryableError,
    missing_extra,
    translating,
)

# gRPC code -> what the deployment must fix.
SETUP: dict[str, str] = {
    "NOT_FOUND": "it does not exist: create it (deploy.sh), or add ?create=true to the URL "
                 "for local runs",
    "PERMISSION_DENIED": "the service account lacks a role it needs (see deploy.sh)",
    "UNAUTHENTICATED": "the credentials were refused",
}
RACE = frozenset({"ABORTED", "ALREADY_EXISTS", "FAILED_PRECONDITION"})
GOOGLE_MODULES = ("google.api_core.", "google.auth.")
NO_CREDENTIALS = ("no Google credentials: run on Google Cloud, run `gcloud auth "
                  "application-default login`, or point PUBSUB_EMULATOR_HOST / "
                  "FIRESTORE_EMULATOR_HOST at an emulator (with GOOGLE_CLOUD_PROJECT)")


def code(exc: BaseException) -> str | None:
    """The gRPC status code name of a google-api-core error (``"ABORTED"``), else None."""
    status = getattr(exc, "grpc_status_code", None)
    return getattr(status, "name", None)


def lost_race(exc: BaseException, *, updating: bool) -> bool:
    """A conditional write that another writer beat: the document was created meanwhile
    (ALREADY_EXISTS), changed or deleted since it was read (FAILED_PRECONDITION, NOT_FOUND when
    ``updating``), or Firestore aborted it under contention (ABORTED, HTTP 409)."""
    name = code(exc)
    return name in RACE or (updating and name == "NOT_FOUND")


def translate(exc: BaseException, what: str,
              unavailable: type[RetryableError]) -> PortableError:
    """The portable error for a Google SDK failure while doing ``what``."""
    name = code(exc)
    if name in SETUP:
        return ConfigurationError(f"{what}: {name}: {SETUP[name]} ({_message(exc)})")
    if type(exc).__name__ == "DefaultCredentialsError":
        return ConfigurationError(f"{what}: {NO_CREDENTIALS}")
    detail = f"{what}: {name or type(exc).__name__}: {_message(exc)}"
    if classify_sdk(exc) or isinstance(exc, TimeoutError):
        return unavailable(detail)
    return PermanentError(detail + " (retrying will not help)")


def translated(what: str, unavailable: type[RetryableError]) -> AbstractContextManager[None]:
    """Run Google SDK calls; their errors leave as portable errors (see :func:`translate`)."""
    return translating(_is_google, lambda exc: translate(exc, what, unavailable))


def _is_google(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(GOOGLE_MODULES) or isinstance(exc, TimeoutError)


@contextmanager
def installed(package: str) -> Iterator[None]:
    """Import a Google Cloud client library; if it is missing, say how to install it."""
    try:
        yield
    except ImportError as exc:
        raise missing_extra("gcp", package) from exc


def _message(exc: BaseException) -> str:
    return str(getattr(exc, "message", None) or exc)
