"""S3 objects for ``storage.open`` / ``storage.write``: ``s3://bucket/key``.

Endpoint, region and credentials are the usual AWS settings (``AWS_ENDPOINT_URL`` reaches
moto or any S3-compatible store). A read is ``GetObject``, with the ``VersionId`` the event
announced when there is one (a versioned bucket keeps that version however often the key is
overwritten), streamed from the response body in 1 MiB chunks. A write is boto3's managed
transfer: one ``PutObject`` up to 8 MiB, above that a multipart upload of 8 MiB parts, four in
flight and no more than four read ahead (about 64 MiB at most).

Errors: a missing object, version or bucket on read raises
:class:`adapters._objects.ObjectNotFound` (a PermanentError: the event is dead-lettered at
once); a missing bucket on write, ConfigurationError. Without ``s3:ListBucket`` S3 answers a
missing key with AccessDenied, a ConfigurationError like any refused permission. Everything
else is mapped as everywhere in this adapter (adapters.aws._errors).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from portable._errors import ConfigurationError, ObjectNotFound, RetryableError

from .._objects import Answers, answered, reader, split_url
from ._clients import client
from ._errors import error_code, mapped

SCHEME = "s3"
PART_SIZE = 8 * 1024 * 1024
CONCURRENCY = 4
READ_CHUNK = 1024 * 1024

READ_ERRORS: Answers = {
    code: (ObjectNotFound, "no such object, version or bucket")
    for code in ("NoSuchKey", "NoSuchVersion", "NoSuchBucket", "NotFound", "404")
}
WRITE_ERRORS: Answers = {"NoSuchBucket": (ConfigurationError, "the bucket does not exist")}


class S3Objects:
    """The ``s3://`` backend of portable's object access (one boto3 client per backend)."""

    @functools.cached_property
    def _s3(self) -> Any:
        return client("s3", RetryableError)

    def open_read(self, url: str, version: str | None) -> IO[bytes]:
        bucket, key = split_url(url, SCHEME)
        what = f"reading {url}" + (f" (version {version})" if version else "")
        extra = {"VersionId": version} if version else {}
        with _errors(what, READ_ERRORS):
            body = self._s3.get_object(Bucket=bucket, Key=key, **extra)["Body"]
        return reader(body.iter_chunks(READ_CHUNK), lambda: _errors(what, READ_ERRORS),
                      body.close)

    def write(self, url: str, stream: IO[bytes], content_type: str | None) -> None:
        from boto3.s3.transfer import TransferConfig

        bucket, key = split_url(url, SCHEME)
        config = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE,
                                max_concurrency=CONCURRENCY)
        # s3transfer's own setting (boto3's constructor does not take it): how many parts of
        # a stream that cannot seek are read ahead into memory; 10 by default.
        config.max_in_memory_upload_chunks = CONCURRENCY
        extra = {"ContentType": content_type} if content_type else {}
        with _errors(f"writing {url}", WRITE_ERRORS):
            self._s3.upload_fileobj(stream, bucket, key, ExtraArgs=extra, Config=config)


@contextmanager
def _errors(what: str, answers: Answers) -> Iterator[None]:
    with mapped(RetryableError, what), answered(what, answers, error_code):
        yield
