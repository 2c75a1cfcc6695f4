"""azure-core errors -> portable errors, in one place, by the service's error code.

Azure Storage names every failure in the ``x-ms-error-code`` response header (``TableNotFound``,
``UpdateConditionNotSatisfied``, ``PopReceiptMismatch``...); the SDK's ``error_code`` attribute
is missing on some paths (azure-data-tables' ``create_entity``), so the header comes first.
Codes, not HTTP statuses, tell a missing table (a deployment mistake) from a missing entity (an
answer), or a stale pop receipt (someone else took the message) from a bad request.

Nothing here imports azure.core: an SDK error can only exist once the SDK is loaded, and it is
recognised by its attributes. Transient or not is :mod:`portable._classify`'s answer.

    missing table/queue/container, refused key,   -> ConfigurationError (with what to do)
      invalid name
    too large for a message or a property          -> PermanentError
    anything transient (timeouts, 5xx, throttling) -> the caller's "unavailable" error
                                                      (StoreUnavailable, SinkUnavailable, ...)
    anything else                                  -> PermanentError
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from portable._classify import classify_sdk
from portable._errors import (
    ConfigurationError,
    PermanentError,
    PortableError,
    RetryableError,
    translating,
)

# Codes that are answers, handled where they occur (not failures).
ENTITY_EXISTS = "EntityAlreadyExists"
ENTITY_MISSING = "ResourceNotFound"
ETAG_CHANGED = frozenset({"UpdateConditionNotSatisfied", "ConditionNotMet"})
ALREADY_EXISTS = frozenset({"TableAlreadyExists", "QueueAlreadyExists", "ContainerAlreadyExists",
                            "TableBeingDeleted", "QueueBeingDeleted", "ContainerBeingDeleted"})
MESSAGE_GONE = frozenset({"MessageNotFound", "PopReceiptMismatch"})
QUEUE_MISSING = "QueueNotFound"
CONTAINER_MISSING = "ContainerNotFound"
BLOB_MISSING = "BlobNotFound"

# Failures that no retry fixes: what the user has to change.
CONFIGURATION: dict[str, str] = {
    "TableNotFound": "the table does not exist: create it, or add ?create=true to the URL",
    QUEUE_MISSING: "the queue does not exist: create it, or add ?create=true to the URL",
    CONTAINER_MISSING: "the blob container does not exist",
    "AuthenticationFailed": "the account key or SAS in the connection setting was refused",
    "AuthorizationFailure": "the credential may not do this: check its role or SAS permissions",
    "AuthorizationPermissionMismatch": "the credential lacks the permission for this operation",
    "InvalidResourceName": "the name is not a valid table, queue or container name",
    "OutOfRangeInput": "a name is out of range (tables: 3-63 letters and digits; queues and "
                       "containers: 3-63 lowercase letters, digits and single hyphens)",
    "AccountIsDisabled": "the storage account is disabled",
}
CONFIGURATION_TYPES = frozenset({"ClientAuthenticationError"})
TOO_LARGE = frozenset({"RequestBodyTooLarge", "PropertyValueTooLarge", "EntityTooLarge",
                       "MessageTooLarge"})


def error_code(exc: BaseException) -> str | None:
    """The service's error code of an azure-core error, else None."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is not None:
        code = headers.get("x-ms-error-code")
        if code:
            return str(code)
    code = getattr(exc, "error_code", None)
    if code is None:
        return None
    return str(getattr(code, "value", code))


def is_code(exc: BaseException, *codes: str) -> bool:
    """Whether ``exc`` carries one of ``codes``."""
    return error_code(exc) in codes


def translate(exc: BaseException, what: str,
              unavailable: type[RetryableError] = RetryableError) -> PortableError:
    """The portable error for an azure-core error raised while working on ``what``."""
    code = error_code(exc)
    detail = f"{what}: {code or type(exc).__name__}: {_first_line(exc)}"
    hint = CONFIGURATION.get(code or "")
    if hint is None and type(exc).__name__ in CONFIGURATION_TYPES:
        hint = "the credential was refused"
    if hint is not None:
        return ConfigurationError(f"{detail} ({hint})")
    if code in TOO_LARGE:
        return PermanentError(f"{detail} (too large for Azure Storage)")
    if classify_sdk(exc):
        return unavailable(detail)
    return PermanentError(detail)


def mapped(what: str,
           unavailable: type[RetryableError] = RetryableError) -> AbstractContextManager[None]:
    """Raise azure-core errors from the block as portable errors (others pass unchanged)."""
    return translating(_is_azure, lambda exc: translate(exc, what, unavailable))


def _is_azure(exc: BaseException) -> bool:
    return any(cls.__module__.startswith("azure.") for cls in type(exc).__mro__)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    return text.splitlines()[0] if text else ""
