"""Authenticated Pub/Sub push: the OIDC token is checked before anything reaches the pipeline.

Tokens are signed here with keys the tests make; the certificates are injected."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import flask
import pytest
from cloudevents.http import CloudEvent
from google.auth import crypt, jwt
from werkzeug.test import EnvironBuilder

from adapters.gcp import push_handler
from portable import MemorySink, testing
from portable._errors import ConfigurationError
from portable._logging import JsonFormatter, logger
from tests.signing import certificate_pem, private_pem

AUDIENCE = "https://example.run.app/push"
ACCOUNT = "pusher@project.iam.gserviceaccount.com"
SECRET_DATA = "card 4111-1111"
BODY = testing.pubsub_push(SECRET_DATA, message_id="m-1")


def token(key: str = "google", kid: str = "k1", **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": "https://accounts.google.com", "aud": AUDIENCE, "iat": now,
               "exp": now + 3600, "sub": "1234", "email": ACCOUNT, "email_verified": True,
               **claims}
    signer = crypt.RSASigner.from_string(private_pem(key), key_id=kid)
    return jwt.encode(signer, payload).decode()


def certs() -> dict[str, str]:
    return {"k1": certificate_pem("google").decode()}


class Recorder:
    def __init__(self) -> None:
        self.seen: list[CloudEvent] = []

    def __call__(self, event: CloudEvent) -> None:
        self.seen.append(event)


def request(authorization: str | None) -> flask.Request:
    headers = {} if authorization is None else {"Authorization": authorization}
    return flask.Request(EnvironBuilder(method="POST", json=BODY, headers=headers).get_environ())


def call(authorization: str | None, **options: Any) -> tuple[int, dict[str, Any], Recorder,
                                                             MemorySink]:
    handler, sink = Recorder(), MemorySink()
    entry = push_handler(handler, store="memory://", dlq=sink, audience=AUDIENCE,
                         certs=certs, **options)
    body, status, _ = entry(request(authorization))
    return status, json.loads(body), handler, sink


@pytest.fixture
def log_lines(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    """The JSON lines the ``portable`` logger writes, read when called."""
    caplog.handler.setFormatter(JsonFormatter())
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="portable"):
            yield lambda: caplog.text.splitlines()
    finally:
        logger.removeHandler(caplog.handler)


def test_a_valid_token_lets_the_message_through() -> None:
    status, answer, handler, _ = call(f"Bearer {token()}", service_account=ACCOUNT)
    assert (status, answer["processed"]) == (200, 1)
    assert [event["id"] for event in handler.seen] == ["m-1"]


@pytest.mark.parametrize(("authorization", "why"), [
    (None, "no bearer token"),
    ("Basic dXNlcjpwdw==", "no bearer token"),
    ("Bearer not-a-jwt", "invalid token"),
    (f"Bearer {token(aud='https://elsewhere.run.app/')}", "invalid token"),
    (f"Bearer {token(exp=int(time.time()) - 600, iat=int(time.time()) - 4000)}",
     "invalid token"),
    (f"Bearer {token(key='attacker')}", "invalid token"),
    (f"Bearer {token(kid='unknown')}", "invalid token"),
    (f"Bearer {token(iss='https://evil.example.com')}", "issuer"),
])
def test_a_request_without_a_valid_google_token_is_refused_401_before_the_pipeline(
        authorization: str | None, why: str) -> None:
    status, answer, handler, sink = call(authorization)
    assert status == 401
    assert why in answer["error"]
    assert handler.seen == [] and sink.list() == []  # not run, not even dead-lettered


def test_a_token_of_another_service_account_is_forbidden() -> None:
    status, answer, handler, _ = call(f"Bearer {token(email='other@p.iam.gserviceaccount.com')}",
                                      service_account=ACCOUNT)
    assert status == 403 and "other@p.iam" in answer["error"]
    unverified = token(email_verified=False)
    assert call(f"Bearer {unverified}", service_account=ACCOUNT)[0] == 403
    assert handler.seen == []


def test_a_refusal_is_logged_without_the_body(log_lines: Callable[[], list[str]]) -> None:
    call("Bearer not-a-jwt")
    lines = log_lines()
    refused = [json.loads(line) for line in lines if "refused" in line]
    assert refused and refused[0]["level"] == "warning"
    assert all(SECRET_DATA not in line and BODY["message"]["data"] not in line
               for line in lines)


def test_without_audience_push_is_not_authenticated_and_token_options_need_it() -> None:
    handler = Recorder()
    entry = push_handler(handler, store="memory://", dlq=MemorySink())
    assert entry(request(None))[1] == 200 and len(handler.seen) == 1
    with pytest.raises(ConfigurationError, match="audience"):
        push_handler(handler, store="memory://", service_account=ACCOUNT)
