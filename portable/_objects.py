"""Object access for handlers: stream an object's content, store a result, on any provider.

``storage.open(obj)`` / ``storage.read(obj)`` take a StorageObjectEvent (the exact version it
announced is read where the provider versions objects) or a URL; ``storage.write(url, data)``
stores bytes, text or a binary stream. URLs: ``file://``, ``s3://bucket/key``,
``gs://bucket/key``, and the blob's ``http(s)://`` URL for Azure Blob Storage (Azurite too).

Each provider's backend lives in its adapter (``adapters.<provider>.objects``) and is imported
on first use, with endpoints from the ecosystem's own settings (AWS_ENDPOINT_URL,
AzureWebJobsStorage, STORAGE_EMULATOR_HOST). Reads stream: an object is never held whole
in memory unless ``read`` is asked for it.
"""

from __future__ import annotations

import builtins
import os
import shutil
from typing import IO, Any, Protocol
from urllib.parse import unquote, urlsplit

from ._errors import ConfigurationError, ObjectNotFound

# URL scheme -> (module, class, extra). Every class has a no-argument constructor.
BACKENDS: dict[str, tuple[str, str, str | None]] = {
    "file": ("portable._objects", "FileObjects", None),
    "s3": ("adapters.aws.objects", "S3Objects", "aws"),
    "gs": ("adapters.gcp.objects", "GCSObjects", "gcp"),
    "http": ("adapters.azure.objects", "BlobObjects", "azure"),
    "https": ("adapters.azure.objects", "BlobObjects", "azure"),
}
CHUNK = 1024 * 1024


class ObjectBackend(Protocol):
    def open_read(self, url: str, version: str | None) -> IO[bytes]: ...

    def write(self, url: str, stream: IO[bytes], content_type: str | None) -> None: ...


_backends: dict[str, ObjectBackend] = {}


def _backend(url: str) -> ObjectBackend:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in BACKENDS:
        known = ", ".join(f"{s}://" for s in BACKENDS)
        raise ConfigurationError(f"cannot open {url!r}: unknown scheme (known: {known})")
    if scheme not in _backends:
        from ._config import backend_class

        _backends[scheme] = backend_class(BACKENDS[scheme], repr(url))()
    return _backends[scheme]


def _target(target: Any) -> tuple[str, str | None]:
    if isinstance(target, str):
        return target, None
    url, version = getattr(target, "url", None), getattr(target, "version", None)
    if not url:
        raise ConfigurationError(f"{target!r} names no object URL")
    # GCS generations and S3 version ids name the exact version the event announced.
    return str(url), None if version is None else str(version)


def open(target: Any) -> IO[bytes]:  # noqa: A001 - storage.open, like the builtin
    """A binary stream of the object (a StorageObjectEvent or a URL). Close it when done."""
    url, version = _target(target)
    return _backend(url).open_read(url, version)


def read(target: Any) -> bytes:
    """The whole object as bytes (use :func:`open` for large objects)."""
    with open(target) as stream:
        return stream.read()


def write(url: str, data: bytes | str | IO[bytes], content_type: str | None = None) -> None:
    """Store ``data`` at ``url`` (bytes, text as UTF-8, or a binary stream, which is streamed)."""
    import io

    if isinstance(data, str):
        data = data.encode("utf-8")
    stream: IO[bytes] = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    _backend(url).write(url, stream, content_type)


class FileObjects:
    """``file://`` URLs (percent-encoded paths): the local folder provider's objects."""

    def open_read(self, url: str, version: str | None) -> IO[bytes]:
        path = _path(url)
        try:
            return builtins.open(path, "rb")
        except FileNotFoundError:
            raise ObjectNotFound(f"{url}: no such file") from None

    def write(self, url: str, stream: IO[bytes], content_type: str | None) -> None:
        path = _path(url)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        folder, name = os.path.split(path)
        partial = os.path.join(folder, f".{name}.partial-{os.getpid()}")  # hidden: not an event
        with builtins.open(partial, "wb") as out:
            shutil.copyfileobj(stream, out, CHUNK)
        os.replace(partial, path)  # readers never see a half-written file


def _path(url: str) -> str:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ConfigurationError(f"{url!r}: file URLs must name a local path (file:///path)")
    return unquote(parts.path)
