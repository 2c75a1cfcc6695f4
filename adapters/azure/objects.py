"""Azure Blob Storage objects for ``storage.open`` / ``storage.write``: the blob's URL.

A blob is named by its URL, as Event Grid and the blob trigger report it:
``https://<account>.blob.core.windows.net/<container>/<blob>``, or Azurite's path-style
``http://127.0.0.1:10000/devstoreaccount1/<container>/<blob>``. The account and credential are
the Functions host's own connection setting, ``AzureWebJobsStorage`` (adapters.azure._storage
reads it, connection string or identity): a URL of that account is reached with it. A URL that
carries a SAS token (``?sv=...&sig=...``) is reached with that token instead, whatever its
account; any other URL is refused.

A read downloads 4 MiB ranges one after another (``download_blob().chunks()``), of the
``versionId`` the event announced when there is one (accounts with blob versioning). A write
is one Put Blob up to 4 MiB, above that 4 MiB blocks committed as a block list; it overwrites.

Errors: a missing blob, version or container on read raises
:class:`adapters._objects.ObjectNotFound` (a PermanentError); the rest is mapped as everywhere
in this adapter (adapters.azure._errors: a missing container on write is ConfigurationError).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any
from urllib.parse import parse_qs, unquote, urlsplit

from portable._errors import ConfigurationError, ObjectNotFound, RetryableError

from .._objects import Answers, answered, reader
from . import _errors
from ._storage import CLIENT_OPTIONS, DEFAULT_SETTING, service_client

BLOCK = 4 * 1024 * 1024
TRANSFER: dict[str, Any] = {"max_single_get_size": BLOCK, "max_chunk_get_size": BLOCK,
            "max_single_put_size": BLOCK, "max_block_size": BLOCK}
"""The SDK's defaults read the first 32 MiB and put up to 64 MiB in one request, in memory."""
SAS_SIGNATURE = "sig"

READ_ERRORS: Answers = {
    code: (ObjectNotFound, "no such blob, version or container")
    for code in (_errors.BLOB_MISSING, _errors.CONTAINER_MISSING, _errors.ENTITY_MISSING)
}


class BlobObjects:
    """The ``http(s)://`` backend of portable's object access."""

    @functools.cached_property
    def _service(self) -> Any:
        """A Blob service client of the account in AzureWebJobsStorage, transferring in
        4 MiB pieces."""
        from azure.storage.blob import BlobServiceClient

        with _errors.mapped(f"the storage account in {DEFAULT_SETTING}", RetryableError):
            configured = service_client("blob")
            return BlobServiceClient(configured.url, credential=configured.credential,
                                     **CLIENT_OPTIONS["blob"], **TRANSFER)

    def open_read(self, url: str, version: str | None) -> IO[bytes]:
        what = f"reading {url}" + (f" (version {version})" if version else "")
        blob = self._blob(url)
        with _read_errors(what):
            download = blob.download_blob(**({"version_id": version} if version else {}))
        return reader(download.chunks(), lambda: _read_errors(what))

    def write(self, url: str, stream: IO[bytes], content_type: str | None) -> None:
        from azure.storage.blob import ContentSettings

        blob = self._blob(url)
        settings = {"content_settings": ContentSettings(content_type=content_type)
                    } if content_type else {}
        with _errors.mapped(f"writing {url}", RetryableError):
            blob.upload_blob(stream, overwrite=True, **settings)

    def _blob(self, url: str) -> Any:
        """The blob client for ``url``: by its SAS token, or of the configured account."""
        parts = urlsplit(url)
        if SAS_SIGNATURE in parse_qs(parts.query):
            from azure.storage.blob import BlobClient

            return BlobClient.from_blob_url(url, **CLIENT_OPTIONS["blob"], **TRANSFER)
        account = urlsplit(self._service.url)
        base = account.path.rstrip("/") + "/"
        if (parts.scheme.lower(), parts.netloc.lower()) == (
                account.scheme.lower(), account.netloc.lower()) and parts.path.startswith(base):
            container, _, name = parts.path[len(base):].partition("/")
            if not container or not name:
                raise ConfigurationError(f"{url!r} names no container and blob")
            return self._service.get_blob_client(container, unquote(name))
        raise ConfigurationError(
            f"{url!r} is not a blob of the storage account in {DEFAULT_SETTING} "
            f"({self._service.url}) and carries no SAS token")


@contextmanager
def _read_errors(what: str) -> Iterator[None]:
    with _errors.mapped(what, RetryableError), answered(what, READ_ERRORS, _errors.error_code):
        yield
