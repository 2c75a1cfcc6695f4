"""Event Grid webhook authentication: ``azure.register(..., webhook_auth=...)``.

Event Grid can authenticate to a webhook in two ways, and each has its checker here:

- :class:`SharedSecret`: a secret in the subscription's endpoint URL (a query parameter) or in
  a header the subscription adds to each delivery (a custom delivery property); compared in
  constant time.
- :class:`EntraToken`: a Microsoft Entra ID bearer token (a subscription to a webhook protected
  by an Entra application). The signature is checked against the tenant's signing keys (PyJWT,
  imported on the first request), with the audience (the application's id or URI), the
  issuer (the tenant, v1 or v2 tokens), the expiry, and optionally an app role.

Every delivery of events is checked. A validation handshake (which runs nothing, it only
echoes a code or allows an origin) is checked with the credentials the subscription is sure to
put on it: a secret in the endpoint URL, which the handshake is sent to like every delivery.
Event Grid documents custom delivery headers, and the Entra token, for event deliveries only,
so a handshake without them is answered (one that carries a wrong one is refused): a strict
check would make the subscription's creation fail for good, and an unauthenticated party gains
nothing from a handshake, since the events that follow are still refused.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .._auth import bearer, forbidden, header, unauthenticated

SECRET_PARAMETER = "secret"
LEEWAY = 10
"""Seconds of clock difference allowed on ``nbf`` and ``exp``."""
KEYS_URL = "https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys"
ISSUERS = ("https://sts.windows.net/{tenant}/", "https://login.microsoftonline.com/{tenant}/v2.0")
ALGORITHMS = ("RS256",)

KeyFinder = Callable[[str], Any]
"""Key id -> the public key that verifies it (a cryptography key, a PyJWK or PEM)."""


class WebhookAuth(Protocol):
    def check(self, headers: Mapping[str, str], params: Mapping[str, str]) -> None:
        """Raises Refused (401 / 403) unless the request comes from the subscription."""

    def check_handshake(self, headers: Mapping[str, str], params: Mapping[str, str]) -> None:
        """The same for a validation handshake (see the module's docstring)."""


@dataclass(frozen=True)
class SharedSecret:
    """The subscription sends ``secret`` as query parameter ``parameter`` (the endpoint URL
    ``https://.../api/events?secret=...``) or, when ``header`` is given, in that header."""

    secret: str = field(repr=False)
    parameter: str | None = SECRET_PARAMETER
    header: str | None = None

    def __post_init__(self) -> None:
        if not self.secret or not (self.parameter or self.header):
            raise ValueError("SharedSecret needs a secret, and a parameter or a header")

    def check(self, headers: Mapping[str, str], params: Mapping[str, str]) -> None:
        offered = [value for value in (
            params.get(self.parameter) if self.parameter else None,
            header(headers, self.header) if self.header else None) if value]
        if not offered:
            raise unauthenticated("no webhook secret in the request")
        expected = self.secret.encode("utf-8")
        if not any(hmac.compare_digest(value.encode("utf-8"), expected) for value in offered):
            raise forbidden("the webhook secret does not match")

    def check_handshake(self, headers: Mapping[str, str], params: Mapping[str, str]) -> None:
        """A secret in the URL is required; a header secret only checked when sent."""
        if self.header is None or header(headers, self.header) or (
                self.parameter and params.get(self.parameter)):
            self.check(headers, params)


@dataclass(frozen=True)
class EntraToken:
    """A Microsoft Entra ID token for ``audience`` issued by ``tenant``; ``role``: an app role
    the token must hold (the one assigned to Event Grid's service principal)."""

    audience: str | Sequence[str]
    tenant: str
    role: str | None = None
    keys: KeyFinder | None = None
    """Default: the tenant's published signing keys, fetched and cached by PyJWT."""

    def check_handshake(self, headers: Mapping[str, str], params: Mapping[str, str]) -> None:
        """The token is only checked when sent."""
        if header(headers, "authorization"):
            self.check(headers, params)

    def check(self, headers: Mapping[str, str], params: Mapping[str, str]) -> None:
        token = bearer(headers)
        claims = self._verified(token)
        if self.role is not None and self.role not in (claims.get("roles") or ()):
            raise forbidden(f"the token does not hold the app role {self.role!r}")

    def _verified(self, token: str) -> Mapping[str, Any]:
        import jwt

        try:
            key_id = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError as exc:
            raise unauthenticated(f"invalid token: {exc}") from None
        if not isinstance(key_id, str):
            raise unauthenticated("the token names no signing key (kid)")
        key = self._key(key_id)
        audience = self.audience if isinstance(self.audience, str) else list(self.audience)
        try:
            claims: Mapping[str, Any] = jwt.decode(
                token, key, algorithms=list(ALGORITHMS), audience=audience,
                issuer=[issuer.format(tenant=self.tenant) for issuer in ISSUERS],
                leeway=LEEWAY, options={"require": ["exp", "iss", "aud"]})
        except jwt.InvalidTokenError as exc:
            raise unauthenticated(f"invalid token: {exc}") from None
        return claims

    def _key(self, key_id: str) -> Any:
        if self.keys is not None:
            found = self.keys(key_id)
        else:
            import jwt

            try:
                found = _jwks(self.tenant).get_signing_key(key_id).key
            except jwt.PyJWKClientConnectionError:
                raise  # ours to retry, not the sender's fault
            except jwt.PyJWKClientError as exc:
                raise unauthenticated(f"unknown signing key: {exc}") from None
        if found is None:
            raise unauthenticated(f"unknown signing key {key_id!r}")
        return found


_clients: dict[str, Any] = {}


def _jwks(tenant: str) -> Any:
    """One PyJWKClient per tenant: it caches the keys, refetching for an unknown key id."""
    import jwt

    if tenant not in _clients:
        _clients[tenant] = jwt.PyJWKClient(KEYS_URL.format(tenant=tenant), cache_keys=True)
    return _clients[tenant]
