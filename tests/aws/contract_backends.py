"""The AWS store and sink in the shared contract suites (tests/contract): a DynamoDB table
and an SQS queue of their own per test, on the session's moto server."""

from __future__ import annotations

import uuid

import pytest

from tests.aws.emulator import moto_server
from tests.contract.backends import Backend, register
from tests.contract.sinks import SinkBackend, register_sink

__all__ = ["moto_server"]


def _dynamodb_url(request: pytest.FixtureRequest) -> str:
    request.getfixturevalue("moto_server")
    return f"dynamodb://contract-{uuid.uuid4().hex}?create=true"


def _sqs_url(request: pytest.FixtureRequest) -> str:
    request.getfixturevalue("moto_server")
    return f"sqs://contract-{uuid.uuid4().hex}?create=true&wait=0"


register(Backend("dynamodb", _dynamodb_url, processes=True))
register_sink(SinkBackend("sqs", _sqs_url))
