"""Fixtures of the GCP tests: the session's Pub/Sub and Firestore emulators (defined with the
contract backends, so that both test packages share one emulator of each)."""

from tests.gcp.contract_backends import (  # noqa: F401 - fixtures
    firestore_emulator,
    firestore_env,
    pubsub_emulator,
    pubsub_env,
)
