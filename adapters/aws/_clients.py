"""boto3 clients for the stores, sinks and publish: imported only when one is built.

Endpoint, region and credentials come from the usual AWS settings, read by boto3 itself:
``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_<SERVICE>``; boto3 >= 1.28.57 honours both),
``AWS_REGION`` / ``AWS_DEFAULT_REGION``, and the credential chain (on Lambda, the function's
role). Each client has a session of its own (boto3's default session is not thread-safe to
create clients from) and enough pooled connections for a function's threads.
"""

from __future__ import annotations

from typing import Any

from portable._errors import RetryableError, missing_extra

from ._errors import mapped

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 10.0
POOL = 50


def client(service: str, unavailable: type[RetryableError], region: str | None = None) -> Any:
    """A boto3 client for ``service``; missing settings raise ConfigurationError."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise missing_extra("aws", "boto3") from exc
    config = Config(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
                    max_pool_connections=POOL, retries={"mode": "standard", "max_attempts": 3})
    with mapped(unavailable, f"AWS {service} client"):
        return boto3.session.Session().client(service, region_name=region, config=config)
