"""SNS HTTP(S) subscriptions: signed messages only (SignatureVersion 1 and 2), the signing
certificate from an SNS host, subscriptions confirmed; notifications through the pipeline.

Messages are signed here with a key the tests make; the certificate is injected."""

from __future__ import annotations

import base64
import json
from typing import Any

import flask
import pytest
from cloudevents.http import CloudEvent
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from werkzeug.test import EnvironBuilder

from adapters import aws
from adapters.aws._sns_http import canonical
from portable import MemorySink, RetryableError
from tests.signing import certificate_pem, private_key

TOPIC = "arn:aws:sns:eu-west-1:123456789012:orders"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789.pem"
SUBSCRIBE_URL = ("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"
                 f"&TopicArn={TOPIC}&Token=2336412f37")
HASHES = {"1": hashes.SHA1(), "2": hashes.SHA256()}


def signed(message: dict[str, Any], version: str = "2", key: str = "sns") -> dict[str, Any]:
    message = {"SignatureVersion": version, "SigningCertURL": CERT_URL, **message}
    signature = private_key(key).sign(canonical(message), padding.PKCS1v15(), HASHES[version])
    return {**message, "Signature": base64.b64encode(signature).decode()}


def notification(message_id: str = "n-1", **fields: Any) -> dict[str, Any]:
    return {"Type": "Notification", "MessageId": message_id, "TopicArn": TOPIC,
            "Subject": "order", "Message": '{"orderId": 7}',
            "Timestamp": "2024-05-01T12:00:00.000Z",
            "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe"
                              f"&SubscriptionArn={TOPIC}:sub-1", **fields}


def confirmation(**fields: Any) -> dict[str, Any]:
    return {"Type": "SubscriptionConfirmation", "MessageId": "c-1", "TopicArn": TOPIC,
            "Token": "2336412f37", "Message": "You have chosen to subscribe...",
            "SubscribeURL": SUBSCRIBE_URL, "Timestamp": "2024-05-01T12:00:00.000Z", **fields}


class Endpoint:
    """An endpoint with a recording handler, certificate fetcher and confirmer."""

    def __init__(self, fail: bool = False, **options: Any) -> None:
        self.seen: list[CloudEvent] = []
        self.fetched: list[str] = []
        self.confirmed: list[str] = []
        self.sink = MemorySink()
        self.fail = fail
        self.entry = aws.sns_http_handler(
            self.handle, topic_arns=[TOPIC], certificate=self.certificate,
            confirm=self.confirmed.append, store="memory://", dlq=self.sink, retry=1, **options)

    def handle(self, event: CloudEvent) -> None:
        if self.fail:
            raise RetryableError("downstream unavailable")
        self.seen.append(event)

    def certificate(self, url: str) -> bytes:
        self.fetched.append(url)
        return certificate_pem("sns")

    def post(self, message: Any) -> tuple[int, dict[str, Any]]:
        data = message if isinstance(message, bytes) else json.dumps(message).encode()
        request = flask.Request(EnvironBuilder(
            method="POST", data=data, content_type="text/plain; charset=UTF-8",
            headers={"x-amz-sns-message-type": "Notification"}).get_environ())
        body, status, _ = self.entry(request)
        return status, json.loads(body)


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_notification_is_the_sns_cloudevent_handled_once(version: str) -> None:
    endpoint = Endpoint()
    message = signed(notification(), version)
    assert [endpoint.post(message)[0] for _ in range(2)] == [200, 200]
    [event] = endpoint.seen
    assert (event["id"], event["type"], event["subject"]) == (
        "n-1", "com.amazonaws.sns.Notification", "order")
    assert event["source"] == f"{TOPIC}:sub-1"
    assert event.get_data()["Message"] == '{"orderId": 7}'
    assert endpoint.fetched[0] == CERT_URL


def test_a_notification_without_subject_is_signed_without_it() -> None:
    message = notification()
    del message["Subject"]
    endpoint = Endpoint()
    assert endpoint.post(signed(message))[0] == 200 and len(endpoint.seen) == 1


def tampered() -> dict[str, Any]:
    return {**signed(notification()), "Message": '{"orderId": 8}'}


def foreign_key() -> dict[str, Any]:
    return signed(notification(), key="attacker")


def unsigned() -> dict[str, Any]:
    return {k: v for k, v in signed(notification()).items() if k != "Signature"}


def unknown_version() -> dict[str, Any]:
    return {**signed(notification()), "SignatureVersion": "3"}


@pytest.mark.parametrize("message", [tampered, foreign_key, unsigned, unknown_version])
def test_a_message_that_does_not_verify_is_refused_401_before_the_pipeline(
        message: Any) -> None:
    endpoint = Endpoint()
    status, answer = endpoint.post(message())
    assert status == 401, answer
    assert endpoint.seen == [] and endpoint.sink.list() == []


@pytest.mark.parametrize("url", [
    "http://sns.eu-west-1.amazonaws.com/cert.pem",
    "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem",
    "https://evil.example/sns.eu-west-1.amazonaws.com/cert.pem",
])
def test_a_certificate_off_the_sns_hosts_is_never_fetched(url: str) -> None:
    endpoint = Endpoint()
    message = signed({**notification(), "SigningCertURL": url})
    assert endpoint.post(message)[0] == 401
    assert endpoint.fetched == [] and endpoint.seen == []


def test_not_json_is_refused() -> None:
    endpoint = Endpoint()
    assert endpoint.post(b"hello")[0] == 401 and endpoint.sink.list() == []


def test_a_topic_not_subscribed_to_is_forbidden() -> None:
    endpoint = Endpoint()
    other = "arn:aws:sns:eu-west-1:999999999999:spam"
    status, answer = endpoint.post(signed(notification(TopicArn=other)))
    assert status == 403 and other in answer["error"]
    assert endpoint.seen == []


def test_a_subscription_confirmation_is_confirmed_by_getting_its_url() -> None:
    endpoint = Endpoint()
    assert endpoint.post(signed(confirmation())) == (200, {"type": "SubscriptionConfirmation"})
    assert endpoint.confirmed == [SUBSCRIBE_URL]
    assert endpoint.seen == []


def test_a_confirmation_to_a_foreign_url_or_topic_is_not_followed() -> None:
    endpoint = Endpoint()
    evil = signed(confirmation(SubscribeURL="https://evil.example/confirm"))
    assert endpoint.post(evil)[0] == 403
    forged = {**signed(confirmation()), "Token": "other"}
    assert endpoint.post(forged)[0] == 401
    assert endpoint.confirmed == []


def test_a_failure_to_retry_answers_500_so_sns_redelivers() -> None:
    endpoint = Endpoint(fail=True)
    status, answer = endpoint.post(signed(notification()))
    assert (status, answer["retry"]) == (500, 1)


def test_the_last_attempt_of_the_delivery_policy_dead_letters() -> None:
    endpoint = Endpoint(fail=True, max_attempts=2)
    message = signed(notification())
    assert [endpoint.post(message)[0] for _ in range(2)] == [500, 200]
    [letter] = endpoint.sink.list()
    assert letter.event is not None and letter.event["id"] == "n-1"


def test_a_lambda_function_url_event_is_answered_as_a_proxy_response() -> None:
    endpoint = Endpoint()
    body = json.dumps(signed(notification()))
    for event in ({"headers": {}, "body": body, "isBase64Encoded": False},
                  {"headers": {}, "body": base64.b64encode(body.encode()).decode(),
                   "isBase64Encoded": True}):
        answer = endpoint.entry(event, None)
        assert answer["statusCode"] == 200
    assert len(endpoint.seen) == 1  # the second is a duplicate
