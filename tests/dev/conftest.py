"""Fixtures of the ``portable dev`` tests: the emulators each provider needs, or a skip (a
failure in CI) naming what installs them."""

from __future__ import annotations

import importlib.util

import pytest

from tests.aws.emulator import moto_server
from tests.emulators import require_binary, unavailable

__all__ = ["moto_server"]


@pytest.fixture
def moto_installed() -> None:
    if not all(importlib.util.find_spec(name) for name in ("moto", "flask_cors")):
        unavailable("moto[server] is not installed (pip install 'moto[server]')")


@pytest.fixture
def azurite_installed() -> None:
    require_binary("azurite", "npm install -g azurite")


@pytest.fixture
def gcp_emulators_installed() -> None:
    require_binary("gcloud", "gcloud components install pubsub-emulator (and Java 17+)")
    if importlib.util.find_spec("gcp_storage_emulator") is None:
        unavailable("gcp-storage-emulator is not installed (pip install gcp-storage-emulator)")
