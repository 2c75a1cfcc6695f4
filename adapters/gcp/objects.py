"""Cloud Storage objects for ``storage.open`` / ``storage.write``: ``gs://bucket/key``.

google-cloud-storage reaches ``STORAGE_EMULATOR_HOST`` when it is set (anonymous
credentials), else Cloud Storage with the ambient credentials. A read first fetches the
object's metadata (a missing object fails here, before any content), then reads 8 MiB ranges
one after another (``blob.open("rb")``). Given the generation an event announced, it reads that
generation, and checks that the metadata is of that generation: a bucket without object
versioning keeps only the live one, so an object overwritten since the event is gone, and says
so rather than handing over newer content. A write is one request up to 8 MiB; a larger or
unsized stream goes as a resumable upload in 8 MiB chunks, cancelled if the stream fails.

Errors: a missing object, generation or bucket on read raises
:class:`adapters._objects.ObjectNotFound` (a PermanentError); a missing bucket on write,
ConfigurationError; the rest is mapped as everywhere in this adapter (adapters.gcp._errors).
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from portable._errors import ConfigurationError, ObjectNotFound, RetryableError

from .._objects import Answers, answered, reader, remaining, split_url
from ._errors import code, installed, translated

SCHEME = "gs"
CHUNK = 8 * 1024 * 1024  # a multiple of 256 KiB, as resumable uploads require
NOT_FOUND = "NOT_FOUND"
READ_ERRORS: Answers = {NOT_FOUND: (ObjectNotFound, "no such object, generation or bucket")}
WRITE_ERRORS: Answers = {NOT_FOUND: (ConfigurationError, "the bucket does not exist")}


class GCSObjects:
    """The ``gs://`` backend of portable's object access (one client per backend)."""

    @functools.cached_property
    def _client(self) -> Any:
        with installed("google-cloud-storage"):
            from google.cloud.storage import Client

        with translated("creating a Cloud Storage client", RetryableError):
            return Client(project=os.environ.get("GOOGLE_CLOUD_PROJECT") or None)

    def open_read(self, url: str, version: str | None) -> IO[bytes]:
        bucket, key = split_url(url, SCHEME)
        generation = _generation(url, version)
        what = f"reading {url}" + (f" (generation {generation})" if generation else "")
        blob = self._client.bucket(bucket).blob(key, generation=generation)
        with _errors(what, READ_ERRORS):
            blob.reload()
        if generation is not None and blob.generation != generation:
            raise ObjectNotFound(f"{what}: that generation is gone (live: {blob.generation})")
        with _errors(what, READ_ERRORS):
            stream = blob.open("rb", chunk_size=CHUNK)
        return reader(iter(functools.partial(stream.read, CHUNK), b""),
                      lambda: _errors(what, READ_ERRORS), stream.close)

    def write(self, url: str, stream: IO[bytes], content_type: str | None) -> None:
        bucket, key = split_url(url, SCHEME)
        blob = self._client.bucket(bucket).blob(key)
        size = remaining(stream)
        with _errors(f"writing {url}", WRITE_ERRORS):
            if size is not None and size <= CHUNK:
                blob.upload_from_file(stream, size=size, content_type=content_type)
                return
            # A failure inside the block cancels the upload: no partial object is committed.
            with blob.open("wb", chunk_size=CHUNK, content_type=content_type,
                           ignore_flush=True) as out:
                shutil.copyfileobj(stream, out, CHUNK)


def _generation(url: str, version: str | None) -> int | None:
    if version is None:
        return None
    if not version.isdigit():
        raise ConfigurationError(f"{url}: {version!r} is not a Cloud Storage generation")
    return int(version)


@contextmanager
def _errors(what: str, answers: Answers) -> Iterator[None]:
    with translated(what, RetryableError), answered(what, answers, code):
        yield
