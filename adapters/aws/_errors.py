"""botocore errors -> portable errors, in one place, by error code (DESIGN.md, Conventions).

Imports no AWS SDK: an error object of botocore can only exist when botocore is loaded, so
errors are recognised by their ``response`` and class names, as portable._classify does.

================================  ===========================================================
the AWS error                     becomes
================================  ===========================================================
a missing table, queue or topic,  ConfigurationError: a deployment mistake, named with the
denied access, bad credentials,   resource and what to do (retrying cannot fix it)
no region
transient (throttling, 5xx,       ``unavailable`` (StoreUnavailable or SinkUnavailable): the
timeouts, connection failures;    delivery fails and the platform redelivers
portable._classify decides)
any other client error            PermanentError (an invalid or oversized message)
================================  ===========================================================
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from portable._classify import classify_sdk
from portable._errors import (
    ConfigurationError,
    PermanentError,
    PortableError,
    RetryableError,
    translating,
)

CONDITION_FAILED = "ConditionalCheckFailedException"
ALREADY_EXISTS = frozenset({"ResourceInUseException", "QueueAlreadyExists"})
NOT_CONFIGURED = frozenset({
    "ResourceNotFoundException",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "NotFound",
    "NotFoundException",
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "MissingAuthenticationToken",
    "ExpiredToken",
    "ExpiredTokenException",
    "KMSAccessDeniedException",
    "KMS.AccessDeniedException",
})
"""Error codes that mean the resource or the credentials are wrong, not the moment."""
NOT_CONFIGURED_CLASSES = frozenset({
    "NoCredentialsError",
    "PartialCredentialsError",
    "NoRegionError",
    "ProfileNotFound",
})
"""botocore errors raised before any request is sent."""
SETTINGS_HINT = ("check the name, AWS_REGION / AWS_DEFAULT_REGION, the credentials and "
                 "AWS_ENDPOINT_URL")


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError (None for anything else)."""
    response: Any = getattr(exc, "response", None)
    if not isinstance(response, dict) or not _is_botocore(exc):
        return None
    return str(response.get("Error", {}).get("Code") or "") or None


def to_portable(exc: BaseException, unavailable: type[RetryableError], what: str) -> PortableError:
    """The portable error for a failure of ``what`` (e.g. "DynamoDB table 'orders'")."""
    code = error_code(exc)
    names = {cls.__name__ for cls in type(exc).__mro__}
    if code in NOT_CONFIGURED or names & NOT_CONFIGURED_CLASSES:
        return ConfigurationError(f"{what}: {exc} ({SETTINGS_HINT})")
    if classify_sdk(exc):
        return unavailable(f"{what} unavailable: {exc}")
    return PermanentError(f"{what} refused the request: {exc}")


def mapped(unavailable: type[RetryableError], what: str) -> AbstractContextManager[None]:
    """Raise botocore errors of the block as portable ones (portable errors pass through)."""
    return translating(_is_botocore, lambda exc: to_portable(exc, unavailable, what))


def _is_botocore(exc: BaseException) -> bool:
    return type(exc).__module__.split(".", 1)[0] in ("botocore", "boto3")
