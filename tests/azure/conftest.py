"""Fixtures of the Azure tests: the session's Azurite (shared with the contract suite) and
clients of it for the test itself."""

from __future__ import annotations

from typing import Any

import pytest

from tests.azure.contract_backends import Azurite, azurite

__all__ = ["azurite"]


@pytest.fixture
def azurite_env(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> Azurite:
    """Azurite, with AzureWebJobsStorage pointing at it for this test."""
    azurite.use(monkeypatch)
    return azurite


@pytest.fixture
def blob_service(azurite_env: Azurite) -> Any:
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient.from_connection_string(azurite_env.connection_string)


@pytest.fixture
def queue_service(azurite_env: Azurite) -> Any:
    from azure.storage.queue import QueueServiceClient

    return QueueServiceClient.from_connection_string(azurite_env.connection_string)
