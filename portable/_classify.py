"""Is an error worth retrying? One answer for every provider, decided by error code.

Cloud SDK errors are recognised by class name and module, without importing the SDKs:
an error object of botocore, google-api-core or azure-core can only exist if that SDK is
already loaded. HTTP status is a last resort: AWS throttling arrives as a 400, Firestore
contention as a 409/Aborted.

Transient: timeouts, connection errors, throttling, 408/429/5xx, google-api-core's Aborted,
DeadlineExceeded, ServiceUnavailable, ResourceExhausted (and other 5xx), azure-core's service
request/response errors, RetryableError, user-declared types.
Permanent: PermanentError, bad input (ValueError, TypeError, KeyError and subclasses, such as
JSON decoding and pydantic validation errors), the remaining 4xx client errors, user-declared types.
Anything else is transient: the platform's own default is to redeliver.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._errors import PermanentError, RetryableError

AWS_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeoutException",
        "KMSThrottlingException",
        "TransactionConflictException",
    }
)
GOOGLE_TRANSIENT = frozenset(
    {
        "Aborted",
        "DeadlineExceeded",
        "ServiceUnavailable",
        "ResourceExhausted",
        "InternalServerError",
        "TooManyRequests",
        "GatewayTimeout",
        "BadGateway",
        "Unknown",
        "RetryError",
    }
)
AZURE_TRANSIENT = frozenset(
    {
        "ServiceRequestError",
        "ServiceResponseError",
        "ServiceRequestTimeoutError",
        "ServiceResponseTimeoutError",
    }
)
BAD_INPUT: tuple[type[BaseException], ...] = (ValueError, TypeError, KeyError)


def _status_transient(status: Any) -> bool | None:
    if not isinstance(status, int):
        return None
    return status in (408, 429) or status >= 500


def _family(exc: BaseException) -> str:
    return type(exc).__module__.split(".", 1)[0]


def classify_sdk(exc: BaseException) -> bool | None:
    """True/False for a recognised cloud SDK error, None when it is not one."""
    family = _family(exc)
    names = {cls.__name__ for cls in type(exc).__mro__}
    if family in ("botocore", "boto3"):
        response = getattr(exc, "response", None)
        if isinstance(response, dict):
            code = str(response.get("Error", {}).get("Code", ""))
            if code in AWS_TRANSIENT_CODES:
                return True
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return bool(_status_transient(status))
        # EndpointConnectionError, ReadTimeoutError, ConnectTimeoutError, ...
        return bool(
            names
            & {
                "HTTPClientError",
                "ConnectionError",
                "ReadTimeoutError",
                "ConnectTimeoutError",
                "EndpointConnectionError",
            }
        )
    if family == "google":
        if names & GOOGLE_TRANSIENT:
            return True
        return bool(_status_transient(getattr(exc, "code", None)))
    if family == "azure":
        if names & AZURE_TRANSIENT:
            return True
        return bool(_status_transient(getattr(exc, "status_code", None)))
    if family in ("redis", "grpc", "requests", "urllib3", "httpx"):
        return True
    return None


class Classifier:
    """Decides transient vs permanent; users extend either list with exception types."""

    def __init__(
        self,
        transient: Iterable[type[BaseException]] = (),
        permanent: Iterable[type[BaseException]] = (),
    ) -> None:
        self.transient = tuple(transient)
        self.permanent = tuple(permanent)

    def is_transient(self, exc: BaseException) -> bool:
        if isinstance(exc, self.permanent):
            return False
        if isinstance(exc, self.transient):
            return True
        if isinstance(exc, PermanentError):
            return False
        if isinstance(exc, RetryableError):
            return True
        sdk = classify_sdk(exc)
        if sdk is not None:
            return sdk
        if isinstance(exc, TimeoutError | ConnectionError):
            return True
        return not isinstance(exc, BAD_INPUT)
