"""Fixtures of the AWS tests: moto in server mode for the session (tests.aws.emulator), boto3
clients on it, and names no other test uses."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.aws.emulator import MotoServer, moto_server

__all__ = ["moto_server"]


@pytest.fixture
def boto(moto_server: MotoServer) -> Any:
    """``boto("sqs")``: a boto3 client on the session's moto server."""
    import boto3

    session = boto3.session.Session()
    return lambda service: session.client(service)


@pytest.fixture
def unique() -> Any:
    """``unique("orders")`` -> ``orders-<random>``: a queue, table or bucket of this test only."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:12]}"
