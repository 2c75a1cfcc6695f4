"""The storage view: one shape for "an object changed" on S3, Azure Blob, GCS and local folders.

>>> obj = storage.object_event(event)
>>> obj.action, obj.bucket, obj.key, obj.size
>>> with storage.open(obj) as stream: ...      # the object's content, streamed
>>> storage.write("s3://bucket/out.json", b"...")

The provider is known from the CloudEvent ``type``; the action from the tables below (data,
not branches, as DESIGN.md's action table). Fields a provider does not send are ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from cloudevents.http import CloudEvent

from ._errors import NotAStorageEvent

if TYPE_CHECKING:
    from ._objects import open, read, write  # noqa: A004 - storage.open streams an object

__all__ = ["ACTIONS", "ARCHIVED", "CREATED", "DELETED", "UPDATED", "StorageObjectEvent",
           "action_of", "object_event", "open", "read", "write"]

CREATED = "created"
DELETED = "deleted"
ARCHIVED = "archived"
UPDATED = "updated"
ACTIONS = (CREATED, DELETED, ARCHIVED, UPDATED)

AWS_PREFIX = "com.amazonaws.s3."
AZURE_PREFIX = "Microsoft.Storage."
GCP_PREFIX = "google.cloud.storage.object.v1."
LOCAL_PREFIX = "portable.local.storage.object."

# S3 notification eventName prefix -> action (longest prefix wins).
S3_ACTIONS: dict[str, str] = {
    "ObjectCreated:": CREATED,
    "ObjectRemoved:": DELETED,
    "LifecycleExpiration:": DELETED,
    "ReducedRedundancyLostObject": DELETED,
    "LifecycleTransition": ARCHIVED,
    "IntelligentTiering": ARCHIVED,
    "ObjectTagging:": UPDATED,
    "ObjectAcl:Put": UPDATED,
    "ObjectRestore:": UPDATED,
}

# Event Grid Microsoft.Storage.<name> -> action; BlobTierChanged depends on the new tier.
AZURE_ACTIONS: dict[str, str] = {
    "BlobCreated": CREATED,
    "BlobDeleted": DELETED,
    "BlobTierChanged": UPDATED,
    "BlobPropertiesUpdated": UPDATED,
    "BlobRenamed": UPDATED,
}

GCP_ACTIONS: dict[str, str] = {
    "finalized": CREATED,
    "deleted": DELETED,
    "archived": ARCHIVED,
    "metadataUpdated": UPDATED,
}

LOCAL_ACTIONS: dict[str, str] = {"created": CREATED, "deleted": DELETED}

_OBJECT_ACCESS = frozenset({"open", "read", "write"})


def __getattr__(name: str) -> Any:
    """``open``, ``read`` and ``write`` load object access (and shutil...) on first use: an
    entry that only reads the storage view does not pay for it at cold start."""
    if name in _OBJECT_ACCESS:
        from . import _objects

        return getattr(_objects, name)
    raise AttributeError(f"module 'portable.storage' has no attribute {name!r}")


class StorageObjectEvent(NamedTuple):
    """What happened to which object, whatever the provider."""

    action: str
    provider: str
    bucket: str
    key: str
    size: int | None
    etag: str | None
    content_type: str | None
    version: str | None
    sequencer: str | None
    url: str
    time: datetime | None
    replaced: bool = False


def object_event(event: CloudEvent) -> StorageObjectEvent:
    """Any storage CloudEvent of DESIGN.md's table -> StorageObjectEvent.

    Raises NotAStorageEvent (a PermanentError) for anything else.
    """
    event_type = str(event.get("type") or "")
    data = event.get_data()
    for prefix, build in _BUILDERS:
        if event_type.startswith(prefix):
            if not isinstance(data, Mapping):
                raise NotAStorageEvent(
                    f"{event_type} event has no object data (got {type(data).__name__})"
                )
            return build(event, event_type[len(prefix) :], data)
    raise NotAStorageEvent(f"{event_type!r} is not a storage object event")


def action_of(event: CloudEvent) -> str | None:
    """The storage action of an event, or None for any other event (used by routing)."""
    try:
        return object_event(event).action
    except NotAStorageEvent:
        return None


def _s3(event: CloudEvent, name: str, data: Mapping[str, Any]) -> StorageObjectEvent:
    action = _lookup(S3_ACTIONS, name, event)
    if "s3" in data:  # an S3 notification record
        s3 = data["s3"]
        bucket, obj = s3["bucket"]["name"], s3["object"]
        raw_key = obj["key"]
        version, etag = obj.get("versionId"), obj.get("eTag")
        key = event.get("subject") or decoded_s3_key(raw_key)
    else:  # an EventBridge "detail"
        bucket, obj = data["bucket"]["name"], data["object"]
        key = event.get("subject") or obj["key"]
        version, etag = obj.get("version-id"), obj.get("etag")
    return StorageObjectEvent(
        action=action,
        provider="aws",
        bucket=bucket,
        key=key,
        size=_int(obj.get("size")),
        etag=etag,
        content_type=None,
        version=version,
        sequencer=obj.get("sequencer"),
        url=f"s3://{bucket}/{key}",
        time=_time(event),
    )


def _azure(event: CloudEvent, name: str, data: Mapping[str, Any]) -> StorageObjectEvent:
    action = _lookup(AZURE_ACTIONS, name, event, exact=True)
    if name == "BlobTierChanged" and str(data.get("accessTier", "")).lower() == "archive":
        action = ARCHIVED
    subject = str(event.get("subject") or "")
    container, sep, blob = subject.partition("/containers/")[2].partition("/blobs/")
    if not sep:
        raise NotAStorageEvent(
            f"{event.get('type')} subject {subject!r} names no container and blob"
        )
    url = data.get("destinationUrl") or data.get("url") or data.get("blobUrl")
    return StorageObjectEvent(
        action=action,
        provider="azure",
        bucket=container,
        key=blob,
        size=_int(data.get("contentLength")),
        etag=_unquote(data.get("eTag")),
        content_type=data.get("contentType"),
        version=data.get("versionId"),
        sequencer=data.get("sequencer"),
        url=str(url or ""),
        time=_time(event),
    )


def _gcp(event: CloudEvent, name: str, data: Mapping[str, Any]) -> StorageObjectEvent:
    action = _lookup(GCP_ACTIONS, name, event, exact=True)
    bucket, key = data["bucket"], data["name"]
    generation = data.get("generation")
    return StorageObjectEvent(
        action=action,
        provider="gcp",
        bucket=bucket,
        key=key,
        size=_int(data.get("size")),
        etag=data.get("etag"),
        content_type=data.get("contentType"),
        version=None if generation is None else str(generation),
        sequencer=None if generation is None else str(generation),
        url=f"gs://{bucket}/{key}",
        time=_time(event),
        replaced=action in (DELETED, ARCHIVED) and data.get("overwrittenByGeneration") is not None,
    )


def _local(event: CloudEvent, name: str, data: Mapping[str, Any]) -> StorageObjectEvent:
    action = _lookup(LOCAL_ACTIONS, name, event, exact=True)
    source = str(event.get("source"))
    folder = source[len("file://") :] if source.startswith("file://") else source
    key = str(event.get("subject") or data.get("path"))
    return StorageObjectEvent(
        action=action,
        provider="local",
        bucket=folder,
        key=key,
        size=_int(data.get("size")),
        etag=data.get("etag"),
        content_type=data.get("contentType"),
        version=None,
        sequencer=data.get("etag"),
        url="file://" + _quote(f"{folder.rstrip('/')}/{key}"),
        time=_time(event),
    )


_BUILDERS: tuple[
    tuple[str, Callable[[CloudEvent, str, Mapping[str, Any]], StorageObjectEvent]], ...
] = (
    (AWS_PREFIX, _s3),
    (AZURE_PREFIX, _azure),
    (GCP_PREFIX, _gcp),
    (LOCAL_PREFIX, _local),
)


def _lookup(table: Mapping[str, str], name: str, event: CloudEvent, exact: bool = False) -> str:
    if exact:
        if name in table:
            return table[name]
    else:
        for prefix in sorted(table, key=len, reverse=True):
            if name.startswith(prefix):
                return table[prefix]
    raise NotAStorageEvent(f"{event.get('type')!r} is not a storage object event")


def decoded_s3_key(key: str) -> str:
    """An object key as S3 URL-encodes it in notifications, decoded. (urllib.parse, with the
    ipaddress module it loads, is 3 ms of a cold start: only keys that need it pay.)"""
    if "+" not in key and "%" not in key:
        return key
    from urllib.parse import unquote_plus

    return unquote_plus(key)


def _quote(path: str) -> str:
    from urllib.parse import quote  # loaded where needed, as above

    return quote(path)


def _unquote(etag: Any) -> str | None:
    """Event Grid sometimes sends the HTTP form of an ETag, in double quotes."""
    return None if etag is None else str(etag).strip('"')


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


def _time(event: CloudEvent) -> datetime | None:
    value = event.get("time")
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None
