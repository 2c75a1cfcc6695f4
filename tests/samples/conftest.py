"""The samples run on every cloud's emulators: the fixtures of each provider's tests (each
emulator still starts once per session, whichever test package asks first)."""

from tests.aws.conftest import boto, unique
from tests.aws.emulator import moto_server
from tests.azure.conftest import azurite_env, blob_service, queue_service
from tests.azure.contract_backends import azurite
from tests.gcp.contract_backends import pubsub_emulator, pubsub_env
from tests.gcp.gcs_emulator import gcs, gcs_emulator, gcs_env

__all__ = ["azurite", "azurite_env", "blob_service", "boto", "gcs", "gcs_emulator", "gcs_env",
           "moto_server", "pubsub_emulator", "pubsub_env", "queue_service", "unique"]
