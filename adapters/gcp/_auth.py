"""Pub/Sub push authentication: the OIDC token of an authenticated push subscription.

A push subscription with authentication sends ``Authorization: Bearer <ID token>``, signed by
Google for the subscription's service account. :class:`PushAuth` checks the signature against
Google's certificates, the audience (the subscription's ``audience``, by default the push
endpoint URL), the issuer (``accounts.google.com``), the expiry, and optionally that the token
is the given service account's (its verified ``email``). google-auth does the JWT work; it is
imported on the first request.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._auth import bearer, forbidden, unauthenticated

GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
CERTS_TTL = 3600.0
CLOCK_SKEW = 10
"""Seconds of clock difference allowed on ``iat`` and ``exp``."""

CertsFetcher = Callable[[], Mapping[str, str]]
"""Returns Google's signing certificates: key id -> PEM certificate."""


class GoogleCerts:
    """Google's OAuth2 certificates, fetched with google-auth's transport and kept an hour."""

    def __init__(self, url: str = CERTS_URL, ttl: float = CERTS_TTL) -> None:
        self.url, self.ttl = url, ttl
        self._certs: Mapping[str, str] = {}
        self._fetched = -ttl
        self._lock = threading.Lock()

    def __call__(self) -> Mapping[str, str]:
        with self._lock:
            if time.monotonic() - self._fetched >= self.ttl:
                import google.auth.transport.requests

                response = google.auth.transport.requests.Request()(self.url, method="GET")
                if response.status != 200:
                    raise ValueError(f"fetching {self.url} answered {response.status}")
                self._certs = json.loads(response.data)
                self._fetched = time.monotonic()
            return self._certs


@dataclass(frozen=True)
class PushAuth:
    """Checks the OIDC token of each push request (``push_handler(..., audience=...)``)."""

    audience: str | Sequence[str]
    service_account: str | None = None
    certs: CertsFetcher = field(default_factory=GoogleCerts)

    def check(self, headers: Mapping[str, str]) -> None:
        """Raises Refused: 401 for a missing or invalid token, 403 for another account."""
        token = bearer(headers)
        claims = self._verified(token)
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise unauthenticated(f"token issuer {claims.get('iss')!r} is not Google")
        if self.service_account is None:
            return
        if claims.get("email") != self.service_account or claims.get("email_verified") is not True:
            raise forbidden(f"token is for {claims.get('email')!r}, not the push subscription's "
                            f"service account {self.service_account!r}")

    def _verified(self, token: str) -> Mapping[str, Any]:
        from google.auth import exceptions, jwt

        audience = self.audience if isinstance(self.audience, str) else list(self.audience)
        certs = self.certs()  # a failure here is ours, not the sender's: it propagates
        decode: Callable[..., Mapping[str, Any]] = jwt.decode  # untyped in google-auth
        try:
            claims = decode(token, certs=certs, audience=audience,
                            clock_skew_in_seconds=CLOCK_SKEW)
        except (ValueError, exceptions.GoogleAuthError) as exc:
            raise unauthenticated(f"invalid token: {exc}") from None
        return claims
