# mypy: disable-error-code="no-untyped-call"
"""google-api-core errors become portable errors in one place, by gRPC code
(adapters.gcp._errors)."""

from __future__ import annotations

import pytest
from google.api_core import exceptions as google
from google.auth.exceptions import DefaultCredentialsError

from adapters.gcp._errors import lost_race, translate, translated
from portable import (
    ConfigurationError,
    PermanentError,
    RetryableError,
    SinkUnavailable,
    StoreUnavailable,
)


@pytest.mark.parametrize("error", [
    google.NotFound("Resource not found (resource=orders-dlq)."),
    google.PermissionDenied("User not authorized to perform this action."),
    google.Unauthenticated("Request had invalid authentication credentials."),
], ids=lambda error: type(error).__name__)
def test_deployment_mistakes_are_configuration_errors(error: Exception) -> None:
    translated_error = translate(error, "pubsub sink projects/p/topics/t", SinkUnavailable)
    assert isinstance(translated_error, ConfigurationError)
    assert str(translated_error).startswith("pubsub sink projects/p/topics/t: ")
    assert str(error.message) in str(translated_error)  # type: ignore[attr-defined]


def test_missing_credentials_say_where_credentials_come_from() -> None:
    error = translate(DefaultCredentialsError("Your default credentials were not found."),
                      "firestore store 'orders'", StoreUnavailable)
    assert isinstance(error, ConfigurationError)
    assert "FIRESTORE_EMULATOR_HOST" in str(error) and "application-default" in str(error)


@pytest.mark.parametrize("error", [
    google.ServiceUnavailable("connection refused"),
    google.DeadlineExceeded("deadline"),
    google.Aborted("Too much contention on these documents."),
    google.ResourceExhausted("quota"),
    google.InternalServerError("internal"),
    TimeoutError("publish did not complete"),
], ids=lambda error: type(error).__name__)
def test_transient_failures_become_the_callers_retryable_error(error: Exception) -> None:
    assert isinstance(translate(error, "store", StoreUnavailable), StoreUnavailable)
    assert isinstance(translate(error, "sink", SinkUnavailable), SinkUnavailable)


@pytest.mark.parametrize("error", [
    google.InvalidArgument("Request payload size exceeds the limit: 10485760 bytes."),
    google.FailedPrecondition("The Cloud Firestore API is not available for Datastore Mode"),
], ids=lambda error: type(error).__name__)
def test_failures_retrying_cannot_fix_are_permanent(error: Exception) -> None:
    translated_error = translate(error, "sink", SinkUnavailable)
    assert isinstance(translated_error, PermanentError)
    assert not isinstance(translated_error, RetryableError)
    assert "retrying will not help" in str(translated_error)


def test_only_google_errors_are_translated() -> None:
    with pytest.raises(KeyError), translated("store", StoreUnavailable):
        raise KeyError("a bug of ours stays a bug")
    with pytest.raises(StoreUnavailable) as info, translated("store", StoreUnavailable):
        raise google.ServiceUnavailable("down")
    assert isinstance(info.value.__cause__, google.ServiceUnavailable)


@pytest.mark.parametrize(("error", "updating", "lost"), [
    (google.AlreadyExists("entity already exists"), False, True),
    (google.FailedPrecondition("the stored version does not match"), True, True),
    (google.Aborted("Too much contention"), True, True),
    (google.NotFound("no entity to update"), True, True),
    (google.NotFound("database (default) does not exist"), False, False),
    (google.ServiceUnavailable("down"), True, False),
], ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value))
def test_a_conditional_write_another_writer_beat_is_a_lost_race(
    error: Exception, updating: bool, lost: bool
) -> None:
    assert lost_race(error, updating=updating) is lost
