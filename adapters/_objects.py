"""What the three object backends (``adapters.<provider>.objects``) share: the error for a
missing object, ``scheme://bucket/key`` URLs, and a buffered reader over an SDK's download.

A download is read one chunk at a time (S3 response body, Azure ``chunks()``, GCS ranged
reads): the reader holds one chunk and its own buffer, never the object. SDK errors raised
mid-stream leave it as portable errors, as the ones raised when the download starts do.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import IO

from portable._errors import ConfigurationError, PortableError

BUFFER = 1024 * 1024

Translate = Callable[[], AbstractContextManager[None]]
"""A context manager that turns an SDK's errors into portable ones."""
Answers = Mapping[str, tuple[type[PortableError], str]]
"""Provider error code -> (portable error, what it means), for one kind of operation."""


@contextmanager
def answered(what: str, answers: Answers,
             code: Callable[[BaseException], str | None]) -> Iterator[None]:
    """Raise the SDK errors of the block that ``answers`` names (by their provider error code,
    as ``code`` reads it) as those portable errors; any other error passes unchanged, to the
    adapter's own mapping around this block."""
    try:
        yield
    except PortableError:
        raise
    except Exception as exc:
        answer = answers.get(code(exc) or "")
        if answer is None:
            raise
        error, meaning = answer
        raise error(f"{what}: {meaning}") from exc


def split_url(url: str, scheme: str) -> tuple[str, str]:
    """(bucket, key) of ``scheme://bucket/key``. The key is taken as written, not
    percent-decoded: ``storage.object_event`` builds these URLs from decoded keys, and S3 and
    GCS keys may hold ``%``, ``?`` or ``#``."""
    prefix = f"{scheme}://"
    bucket, _, key = url[len(prefix):].partition("/") if url.startswith(prefix) else ("", "", "")
    if not bucket or not key:
        raise ConfigurationError(f"{url!r} is not an object URL: expected {prefix}BUCKET/KEY")
    return bucket, key


def remaining(stream: IO[bytes]) -> int | None:
    """How many bytes a seekable stream has left (None when it cannot say): lets an upload
    send a small object in one request and stream a large one in parts."""
    try:
        if not stream.seekable():
            return None
        here = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        stream.seek(here)
    except (OSError, ValueError):
        return None
    return end - here


class ChunkReader(io.RawIOBase):
    """A raw stream over an iterator of byte chunks (see :func:`reader`)."""

    def __init__(self, chunks: Iterator[bytes], translate: Translate,
                 on_close: Callable[[], object] | None = None) -> None:
        super().__init__()
        self._chunks = chunks
        self._translate = translate
        self._on_close = on_close
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            with self._translate():
                chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def close(self) -> None:
        if not self.closed:
            self._pending = memoryview(b"")
            if self._on_close is not None:
                self._on_close()
        super().close()


def reader(chunks: Iterator[bytes], translate: Translate,
           on_close: Callable[[], object] | None = None) -> IO[bytes]:
    """A buffered binary stream over ``chunks``; ``on_close`` releases the download."""
    return io.BufferedReader(ChunkReader(chunks, translate, on_close), buffer_size=BUFFER)
