"""The upload pipeline, written once: on every new object, read it, compute its checksum and
content type, and write a JSON manifest next to it (``<key>.manifest.json``).

* Duplicates are skipped by the framework (the same upload event runs the handler once).
* Manifests are objects too, and land in the same bucket: the handler ignores them, or every
  manifest would trigger another (the classic storage-trigger loop).
* A file that cannot be described (empty) is a PermanentError: dead-lettered, never retried.

Run locally on a folder: ``portable dev samples.upload:app --folder inbox`` (or ``make demo``).
Deploy: ``aws/``, ``azure/`` and ``gcp/`` hold the one-line wrappers for each cloud.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from typing import Any

from portable import App, CloudEvent, PermanentError, storage

MANIFEST_SUFFIX = ".manifest.json"
CHUNK = 1024 * 1024

# First bytes of common formats, for objects whose name says nothing.
SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"%PDF-": "application/pdf",
    b"PK\x03\x04": "application/zip",
    b"GIF8": "image/gif",
}

app = App("upload-pipeline")


@app.on(storage.CREATED)
def describe_upload(event: CloudEvent) -> dict[str, Any] | None:
    obj = storage.object_event(event)
    if obj.key.endswith(MANIFEST_SUFFIX):
        return None  # our own output
    digest, size, head = hashlib.sha256(), 0, b""
    with storage.open(obj) as stream:
        while chunk := stream.read(CHUNK):
            if not head:
                head = chunk[:16]
            digest.update(chunk)
            size += len(chunk)
    if size == 0:
        raise PermanentError(f"{obj.url} is empty: nothing to describe")
    manifest = {
        "source": obj.url,
        "provider": obj.provider,
        "size": size,
        "sha256": digest.hexdigest(),
        "content_type": _content_type(obj.key, obj.content_type, head),
        "etag": obj.etag,
    }
    storage.write(obj.url + MANIFEST_SUFFIX, json.dumps(manifest, indent=2), "application/json")
    return manifest


def _content_type(key: str, declared: str | None, head: bytes) -> str:
    for signature, media_type in SIGNATURES.items():
        if head.startswith(signature):
            return media_type
    if declared and declared != "application/octet-stream":
        return declared
    guessed, _ = mimetypes.guess_type(key)
    return guessed or "application/octet-stream"
