"""What the authenticated entries share: the refusal, the bearer token, the log line.

A request that fails authentication is answered 401 (no credentials, or credentials that do
not verify) or 403 (verified, but not a sender this entry accepts) before anything of it
reaches the pipeline or the dead-letter sink, and is logged without its body.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from portable._logging import log

UNAUTHENTICATED = 401
FORBIDDEN = 403


class Refused(Exception):
    """The request is not from an accepted sender: answer ``status`` and run nothing."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def unauthenticated(reason: str) -> Refused:
    return Refused(UNAUTHENTICATED, reason)


def forbidden(reason: str) -> Refused:
    return Refused(FORBIDDEN, reason)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, whatever the case of its name."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def bearer(headers: Mapping[str, str]) -> str:
    """The token of ``Authorization: Bearer <token>``; Refused (401) without one."""
    scheme, _, token = (header(headers, "authorization") or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated("no bearer token in the Authorization header")
    return token.strip()


def log_refusal(refused: Refused, provider: str, correlation_id: str | None = None) -> None:
    log(logging.WARNING, f"request refused ({refused.status}): {refused.reason}",
        provider=provider, correlation_id=correlation_id, outcome="refused",
        error=refused.reason, error_type=type(refused).__name__)
