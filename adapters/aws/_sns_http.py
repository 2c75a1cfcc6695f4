"""SNS HTTP(S) subscriptions: ``endpoint = aws.sns_http_handler(handle, topic_arns=[...])``.

SNS POSTs JSON messages to a subscribed URL. Each is authenticated before anything else:

1. its signature: ``SignatureVersion`` 1 is SHA1withRSA, 2 is SHA256withRSA, over the
   canonical string AWS defines per message type (``Key\\nValue\\n`` for each signed field, in
   order; ``Subject`` only when the notification has one);
2. the certificate it names: ``SigningCertURL`` must be https on an ``sns.<region>.amazonaws
   .com`` host (fetched once per URL; ``certificate=`` replaces the fetch);
3. its topic: one of ``topic_arns`` (403 otherwise).

A message that fails is answered 401 / 403 and logged without its body. Then by type:

- ``SubscriptionConfirmation``: the subscription is confirmed by GETting its ``SubscribeURL``
  (https on an SNS host too; ``confirm=`` replaces the request), then 200;
- ``UnsubscribeConfirmation``: logged, 200 (nothing to do: the subscription is gone);
- ``Notification``: the SNS CloudEvent of :mod:`adapters.aws.ingress` (or the CloudEvent the
  message carries) through the pipeline. 200 when acknowledged; 500 when it must be retried
  (SNS retries 5xx; it counts any 4xx as delivered). The store counts the deliveries, and the
  last of SNS's default HTTP policy (1 + 3 retries) dead-letters: pass ``max_attempts`` when
  the subscription's delivery policy differs. SNS waits 15 s for an answer.

The endpoint takes a werkzeug / flask request (functions-framework, any WSGI app) and answers
``(body, status, headers)``, or a Lambda function URL / API Gateway proxy event (with
``context``) and answers the proxy response.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from portable._app import App, Handler
from portable._context import Context
from portable._entry import run_events, summarize
from portable._logging import log
from portable._pipeline import Pipeline, Result

from .._auth import Refused, forbidden, header, log_refusal, unauthenticated
from . import ingress

PROVIDER = "aws"
SNS_HTTP_ATTEMPTS = 4
"""Deliveries of SNS's default HTTP/S delivery policy: the first and 3 retries."""
ANSWER_WITHIN = 15.0
FETCH_TIMEOUT = 10.0
JSON_HEADERS = {"Content-Type": "application/json"}
SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$")
NOTIFICATION = "Notification"
SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
                                 "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
                                "TopicArn", "Type"),
}
OPTIONAL_FIELDS = frozenset({"Subject"})
HASHES = {"1": "SHA1", "2": "SHA256"}

CertificateFetcher = Callable[[str], bytes]
"""SigningCertURL -> the PEM certificate."""
Confirmer = Callable[[str], None]
"""GETs a SubscribeURL (raises when it fails)."""
Answer = tuple[int, dict[str, Any]]


def sns_http_handler(handle: App | Handler, *, topic_arns: Iterable[str],
                     certificate: CertificateFetcher | None = None,
                     confirm: Confirmer | None = None,
                     **pipeline_options: Any) -> Callable[..., Any]:
    """The endpoint of an SNS HTTP(S) subscription to the topics ``topic_arns``.

    ``certificate`` / ``confirm``: replace fetching the signing certificate and GETting the
    SubscribeURL (by default urllib, https only). ``pipeline_options``: as
    :class:`portable.Pipeline`.
    """
    topics = frozenset(topic_arns)
    if not topics:
        raise ValueError("topic_arns must name the topics this endpoint accepts messages from")
    entry = _Entry(Pipeline(handle, **pipeline_options), topics,
                   certificate or _fetch_certificate, confirm or _get)

    def endpoint(request: Any, context: Any = None) -> Any:
        if isinstance(request, Mapping):
            return entry.lambda_proxy(request, context)
        status, body = entry.answer(dict(request.headers.items()), request.get_data(),
                                    Context(PROVIDER, raw=request))
        return json.dumps(body), status, JSON_HEADERS

    endpoint.__doc__ = f"SNS HTTP(S) endpoint for {entry.pipeline.name}."
    return endpoint


@dataclass(frozen=True)
class _Entry:
    pipeline: Pipeline
    topics: frozenset[str]
    certificate: CertificateFetcher
    confirm: Confirmer

    def lambda_proxy(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        body = event.get("body") or ""
        raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
        ctx = Context(PROVIDER, raw=event,
                      correlation_id=getattr(context, "aws_request_id", None))
        status, answer = self.answer(dict(event.get("headers") or {}), raw, ctx)
        return {"statusCode": status, "headers": JSON_HEADERS, "body": json.dumps(answer)}

    def answer(self, headers: Mapping[str, str], body: bytes, ctx: Context) -> Answer:
        if ctx.correlation_id is None:
            ctx = ctx.evolve(correlation_id=header(headers, "x-amz-sns-message-id"))
        try:
            message = self.authenticated(body)
        except Refused as refused:
            log_refusal(refused, PROVIDER, ctx.correlation_id)
            return refused.status, {"error": refused.reason}
        kind = message["Type"]
        if kind == NOTIFICATION:
            return self.notify(message, header(headers, "x-amz-sns-subscription-arn"), ctx)
        if kind == "SubscriptionConfirmation":
            try:
                self.confirm(message["SubscribeURL"])
            except OSError as exc:  # SNS sends the confirmation again on a 5xx
                log(logging.ERROR, f"could not confirm the subscription: {exc}",
                    provider=PROVIDER, correlation_id=ctx.correlation_id)
                return 500, {"error": f"could not confirm the subscription: {exc}"}
        log(logging.INFO, f"SNS {kind} for {message['TopicArn']}", provider=PROVIDER,
            correlation_id=ctx.correlation_id, event_id=message["MessageId"])
        return 200, {"type": kind}

    def authenticated(self, body: bytes) -> dict[str, Any]:
        """The message, once its signature, certificate and topic are checked."""
        try:
            message = json.loads(body)
        except ValueError:
            raise unauthenticated("the body is not a JSON SNS message") from None
        if not isinstance(message, dict) or message.get("Type") not in SIGNED_FIELDS:
            raise unauthenticated("the body is not an SNS message of a known Type")
        verify(message, self.certificate)
        if message["TopicArn"] not in self.topics:
            raise forbidden(f"topic {message['TopicArn']!r} is not one this endpoint accepts")
        if message["Type"] == "SubscriptionConfirmation":
            _sns_url(message, "SubscribeURL", forbidden)  # never GET another host
        return message

    def notify(self, message: dict[str, Any], subscription: str | None, ctx: Context) -> Answer:
        ctx = ctx.evolve(deadline=time.time() + ANSWER_WITHIN, max_attempts=SNS_HTTP_ATTEMPTS)
        record = {"EventSource": "aws:sns", "EventSubscriptionArn": subscription,
                  "Sns": message}
        [item] = ingress.items({"Records": [record]})
        results: list[Result]
        if item.error is not None:
            results = [self.pipeline.dead_letter_raw(json.dumps(message), item.error, ctx)]
        else:
            results = run_events(self.pipeline, item.events, ctx)
        summary: dict[str, Any] = dict(summarize(results))
        failed = [result for result in results if not result.acked]
        if failed:
            summary["error"] = str(failed[0].error)
        return (500 if failed else 200), summary


def canonical(message: Mapping[str, Any]) -> bytes:
    """The string SNS signs for ``message`` (its Type decides the fields)."""
    parts: list[str] = []
    for name in SIGNED_FIELDS[message["Type"]]:
        value = message.get(name)
        if value is None and name in OPTIONAL_FIELDS:
            continue
        if not isinstance(value, str):
            raise unauthenticated(f"the message has no {name}")
        parts.append(f"{name}\n{value}\n")
    return "".join(parts).encode("utf-8")


def verify(message: Mapping[str, Any], certificate: CertificateFetcher) -> None:
    """Raises Refused (401) unless ``message`` is signed by the SNS certificate it names."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    algorithm = HASHES.get(str(message.get("SignatureVersion")))
    if algorithm is None:
        raise unauthenticated(f"unknown SignatureVersion {message.get('SignatureVersion')!r}")
    try:
        signature = base64.b64decode(str(message.get("Signature") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise unauthenticated("the Signature is not base64") from None
    signed = canonical(message)
    url = _sns_url(message, "SigningCertURL", unauthenticated)
    try:
        key = x509.load_pem_x509_certificate(certificate(url)).public_key()
    except ValueError:
        raise unauthenticated(f"{url} is not a PEM certificate") from None
    if not isinstance(key, rsa.RSAPublicKey) or not signature:
        raise unauthenticated("the message is not signed with an RSA certificate")
    try:
        key.verify(signature, signed, padding.PKCS1v15(), getattr(hashes, algorithm)())
    except InvalidSignature:
        raise unauthenticated("the signature does not verify") from None


def _sns_url(message: Mapping[str, Any], name: str, refuse: Callable[[str], Refused]) -> str:
    """An https URL on an SNS host (the signing certificate, the SubscribeURL)."""
    url = message.get(name)
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme != "https" or not SNS_HOST.match(parts.hostname or ""):
        raise refuse(f"{name} {url!r} is not an https URL of an SNS host")
    return str(url)


@functools.lru_cache(maxsize=32)
def _fetch_certificate(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response:  # noqa: S310 - https
        body: bytes = response.read()
    return body


def _get(url: str) -> None:
    import urllib.request

    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response:  # noqa: S310 - https
        response.read()
