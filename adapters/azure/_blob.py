"""Blob trigger deliveries -> Microsoft.Storage.BlobCreated, in Event Grid's data shape.

A blob trigger knows less than Event Grid: no request ids, no sequencer, no storage account
resource id. The CloudEvent carries what it does know, under Event Grid's names, so that
``storage.object_event`` and handlers read it the same way:

    type     Microsoft.Storage.BlobCreated
    source   the blob service endpoint (``https://acct.blob.core.windows.net``; with Azurite's
             path-style URLs ``http://127.0.0.1:10000/devstoreaccount1``)
    subject  /blobServices/default/containers/<container>/blobs/<blob>
    id       content_id(blob URI, ETag): the same blob version always gets the same id
    time     the blob's Last-Modified
    data     url, eTag (without quotes), contentType, contentLength, blobType

Two sources of metadata: the ``Properties`` the host passes with an ``InputStream`` (the
WebJobs storage extension serializes them; v4 numbers BlobType like the legacy SDK, v5 like
Azure.Storage.Blobs), and the ``BlobProperties`` of an SDK-type ``BlobClient`` binding.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cloudevents.http import CloudEvent

from portable._errors import MalformedEventError
from portable._events import content_id, new_event

BLOB_CREATED = "Microsoft.Storage.BlobCreated"

# Numeric BlobType by the SDK that serialized the trigger's Properties. The legacy SDK's
# properties have "Created" (the fixture: 2 = BlockBlob); Azure.Storage.Blobs' have "CreatedOn".
_NUMBERED_BLOB_TYPES: dict[str, dict[int, str]] = {
    "Created": {1: "PageBlob", 2: "BlockBlob", 3: "AppendBlob"},
    "CreatedOn": {0: "BlockBlob", 1: "PageBlob", 2: "AppendBlob"},
}
_NAMED_BLOB_TYPES = {"Block": "BlockBlob", "Page": "PageBlob", "Append": "AppendBlob"}


def from_input_stream(stream: Any) -> CloudEvent:
    """An ``azure.functions.InputStream`` (name = ``container/blob``, uri, properties)."""
    props: Mapping[str, Any] = getattr(stream, "blob_properties", None) or {}
    length = stream.length if stream.length is not None else props.get("ContentLength")
    return blob_created(
        uri=stream.uri, name=stream.name, etag=props.get("ETag"),
        content_type=props.get("ContentType"), length=length,
        blob_type=_blob_type(props.get("BlobType"), props),
        last_modified=props.get("LastModified"),
    )


def from_blob_properties(url: str, container: str, blob: str, properties: Any) -> CloudEvent:
    """An SDK ``BlobProperties`` (from ``BlobClient.get_blob_properties()``) of ``url``."""
    settings = getattr(properties, "content_settings", None)
    return blob_created(
        uri=url, name=f"{container}/{blob}", etag=getattr(properties, "etag", None),
        content_type=getattr(settings, "content_type", None),
        length=getattr(properties, "size", None),
        blob_type=_blob_type(getattr(properties, "blob_type", None), {}),
        last_modified=getattr(properties, "last_modified", None),
    )


def blob_created(*, uri: str | None, name: str | None, etag: Any, content_type: Any,
                 length: Any, blob_type: str | None, last_modified: Any) -> CloudEvent:
    if not uri:
        raise MalformedEventError("blob trigger delivery has no blob URI (metadata 'Uri')")
    container, sep, blob = (name or "").partition("/")
    if not (container and sep and blob):
        raise MalformedEventError(
            f"blob trigger name {name!r} is not 'container/blob' (metadata 'BlobTrigger')")
    version = _unquote(etag)
    if not version:
        raise MalformedEventError(
            f"blob trigger delivery for {name!r} has no ETag: one version of the blob could "
            "not be told from the next, so it gets no stable event id")
    data = {
        "eTag": version,
        "contentType": content_type or None,
        "contentLength": _int(length),
        "blobType": blob_type,
        "url": uri,
    }
    return new_event(
        {
            "id": content_id(uri, version),
            "source": _service_endpoint(uri, container),
            "type": BLOB_CREATED,
            "subject": f"/blobServices/default/containers/{container}/blobs/{blob}",
            "time": rfc3339(last_modified),
        },
        {key: value for key, value in data.items() if value is not None},
    )


def rfc3339(value: Any) -> str | None:
    """A datetime or ISO 8601 string -> RFC 3339 text (UTC as ``Z``); None if unusable."""
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(moment, datetime):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    text: str = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _service_endpoint(uri: str, container: str) -> str:
    parts = urlsplit(uri)
    base = f"{parts.scheme}://{parts.netloc}"
    segments = parts.path.lstrip("/").split("/")
    path_style = segments[0] != container and len(segments) > 1 and segments[1] == container
    return f"{base}/{segments[0]}" if path_style else base


def _blob_type(value: Any, props: Mapping[str, Any]) -> str | None:
    if isinstance(value, str):  # SDK enums are str subclasses too
        text = str(value.value if hasattr(value, "value") else value)
        return _NAMED_BLOB_TYPES.get(text, text) or None
    if isinstance(value, int) and not isinstance(value, bool):
        for marker, numbers in _NUMBERED_BLOB_TYPES.items():
            if marker in props:
                return numbers.get(value)
    return None


def _unquote(etag: Any) -> str | None:
    if not isinstance(etag, str):
        return None
    return etag.strip().strip('"') or None


def _int(value: Any) -> int | None:
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None
