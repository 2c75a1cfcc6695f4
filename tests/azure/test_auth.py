"""Authenticated Event Grid webhooks: a shared secret or a Microsoft Entra ID token, checked
before anything reaches the pipeline (tokens signed here, keys injected)."""

from __future__ import annotations

import json
import time
from typing import Any

import azure.functions as func
import jwt
import pytest

from adapters.azure import EntraToken, SharedSecret
from adapters.azure._auth import WebhookAuth
from tests.azure.test_entry import Recorder, letters, make_app
from tests.conftest import fixture
from tests.signing import private_key

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
AUDIENCE = "api://portable-webhook"
ROLE = "AzureEventGridSecureWebhookSubscriber"
NOTIFICATION = {"aeg-event-type": "Notification", "Content-Type": "application/json"}


def deliver(auth: WebhookAuth, headers: dict[str, str] | None = None,
            params: dict[str, str] | None = None,
            body: Any = None) -> tuple[func.HttpResponse, Recorder, Any]:
    handler = Recorder()
    functions, pipeline = make_app(handler, webhook="events", webhook_auth=auth)
    data = json.dumps(body or fixture("azure/eventgrid_blob_created.json")).encode()
    request = func.HttpRequest("POST", "https://app.azurewebsites.net/api/events",
                               headers={**NOTIFICATION, **(headers or {})},
                               params=params or {}, body=data)
    return functions["portable_webhook"](request), handler, pipeline


def entra_token(key: str = "entra", kid: str = "k1", **claims: Any) -> str:
    now = int(time.time())
    payload = {"aud": AUDIENCE, "iss": f"https://sts.windows.net/{TENANT}/", "iat": now,
               "nbf": now, "exp": now + 3600, "roles": [ROLE], **claims}
    return jwt.encode(payload, private_key(key), algorithm="RS256", headers={"kid": kid})


def entra(**options: Any) -> EntraToken:
    keys = {"k1": private_key("entra").public_key()}
    return EntraToken(AUDIENCE, TENANT, keys=keys.get, **options)


def test_the_shared_secret_in_the_query_lets_events_through() -> None:
    response, handler, _ = deliver(SharedSecret("s3cret"), params={"secret": "s3cret"})
    assert response.status_code == 200 and len(handler.seen) == 1


def test_the_shared_secret_may_travel_in_a_header() -> None:
    auth = SharedSecret("s3cret", parameter=None, header="X-Webhook-Secret")
    assert deliver(auth, headers={"x-webhook-secret": "s3cret"})[0].status_code == 200
    assert deliver(auth, params={"secret": "s3cret"})[0].status_code == 401  # header only


@pytest.mark.parametrize(("params", "status"), [({}, 401), ({"secret": "guess"}, 403)])
def test_a_missing_or_wrong_secret_is_refused_before_the_pipeline(
        params: dict[str, str], status: int) -> None:
    response, handler, pipeline = deliver(SharedSecret("s3cret"), params=params)
    assert response.status_code == status
    assert handler.seen == [] and letters(pipeline) == []


def test_the_validation_handshake_needs_the_secret_too() -> None:
    validation = fixture("azure/eventgrid_subscription_validation.json")
    headers = {"aeg-event-type": "SubscriptionValidation"}
    refused, _, _ = deliver(SharedSecret("s3cret"), headers=headers, body=validation)
    answered, _, _ = deliver(SharedSecret("s3cret"), headers=headers, body=validation,
                             params={"secret": "s3cret"})
    assert (refused.status_code, answered.status_code) == (401, 200)
    assert "validationResponse" in json.loads(answered.get_body())


def test_a_valid_entra_token_lets_events_through() -> None:
    response, handler, _ = deliver(entra(role=ROLE),
                                   headers={"Authorization": f"Bearer {entra_token()}"})
    assert response.status_code == 200 and len(handler.seen) == 1
    v2 = entra_token(iss=f"https://login.microsoftonline.com/{TENANT}/v2.0")
    assert deliver(entra(), headers={"Authorization": f"Bearer {v2}"})[0].status_code == 200


@pytest.mark.parametrize("authorization", [
    None,
    "Bearer garbage",
    f"Bearer {entra_token(aud='api://someone-else')}",
    f"Bearer {entra_token(iss='https://sts.windows.net/another-tenant/')}",
    f"Bearer {entra_token(exp=int(time.time()) - 600)}",
    f"Bearer {entra_token(key='attacker')}",
    f"Bearer {entra_token(kid='unknown')}",
])
def test_an_invalid_entra_token_is_refused_401(authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response, handler, pipeline = deliver(entra(), headers=headers)
    assert response.status_code == 401
    assert handler.seen == [] and letters(pipeline) == []


def test_an_entra_token_without_the_app_role_is_forbidden() -> None:
    token = entra_token(roles=["Reader"])
    response, handler, _ = deliver(entra(role=ROLE), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403 and handler.seen == []


HANDSHAKE = {"aeg-event-type": "SubscriptionValidation"}
HEADER_SECRET = SharedSecret("s3cret", parameter=None, header="X-Webhook-Secret")


def handshake(auth: WebhookAuth, **headers: str) -> int:
    body = fixture("azure/eventgrid_subscription_validation.json")
    return deliver(auth, headers={**HANDSHAKE, **headers}, body=body)[0].status_code


@pytest.mark.parametrize("auth", [HEADER_SECRET, entra()], ids=["header secret", "entra"])
def test_a_handshake_without_header_credentials_is_answered_but_events_are_not(
        auth: WebhookAuth) -> None:
    # Event Grid documents delivery headers and the Entra token for event deliveries only.
    assert handshake(auth) == 200
    response, handler, _ = deliver(auth)
    assert response.status_code == 401 and handler.seen == []


def test_a_handshake_with_wrong_credentials_is_refused() -> None:
    assert handshake(HEADER_SECRET, **{"X-Webhook-Secret": "guess"}) == 403
    assert handshake(entra(), Authorization=f"Bearer {entra_token(key='attacker')}") == 401
    assert handshake(entra(), Authorization=f"Bearer {entra_token()}") == 200
