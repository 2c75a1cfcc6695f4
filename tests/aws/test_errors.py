"""botocore errors become portable errors by error code, in one place (adapters.aws._errors)."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)

from adapters.aws._errors import mapped, to_portable
from portable import (
    ConfigurationError,
    PermanentError,
    PortableError,
    SinkUnavailable,
    StoreUnavailable,
)


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} happened"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "UpdateItem")


CASES: dict[str, tuple[BaseException, type[PortableError]]] = {
    "throttling, though a 400": (client_error("ThrottlingException"), StoreUnavailable),
    "provisioned throughput": (client_error("ProvisionedThroughputExceededException"),
                               StoreUnavailable),
    "a 500": (client_error("InternalServerError", 500), StoreUnavailable),
    "no connection": (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
                      StoreUnavailable),
    "a read timeout": (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), StoreUnavailable),
    "a missing table": (client_error("ResourceNotFoundException"), ConfigurationError),
    "a missing queue": (client_error("AWS.SimpleQueueService.NonExistentQueue"),
                        ConfigurationError),
    "denied access": (client_error("AccessDeniedException"), ConfigurationError),
    "bad credentials": (client_error("UnrecognizedClientException"), ConfigurationError),
    "no credentials": (NoCredentialsError(), ConfigurationError),
    "no region": (NoRegionError(), ConfigurationError),
    "an invalid request": (client_error("ValidationException"), PermanentError),
    "an oversized message": (client_error("InvalidParameterValue"), PermanentError),
}


@pytest.mark.parametrize(("error", "expected"), CASES.values(), ids=CASES.keys())
def test_aws_errors_map_by_code(error: BaseException, expected: type[PortableError]) -> None:
    mapped_error = to_portable(error, StoreUnavailable, "DynamoDB table 'orders'")
    assert type(mapped_error) is expected
    assert "DynamoDB table 'orders'" in str(mapped_error)


def test_the_block_raises_the_mapped_error_and_keeps_the_cause() -> None:
    original = client_error("ThrottlingException")
    with pytest.raises(SinkUnavailable) as raised, mapped(SinkUnavailable, "SQS queue 'dlq'"):
        raise original
    assert raised.value.__cause__ is original


def test_other_errors_pass_through_untouched() -> None:
    with pytest.raises(KeyError), mapped(SinkUnavailable, "SQS queue 'dlq'"):
        raise KeyError("not an AWS error")
