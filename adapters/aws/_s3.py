"""S3 object events to CloudEvents: notification records (the CNCF AWS S3 adapter mapping) and
S3 events delivered by EventBridge, typed as the notification would be.

Notification record -> CloudEvent:

- ``type``: ``com.amazonaws.s3.`` + ``eventName`` (S3-compatible stores that prefix it with
  ``s3:``, as MinIO does, lose the prefix);
- ``source``: ``<eventSource>.<awsRegion>.<bucket>``, e.g. ``aws:s3.us-east-1.mybucket``;
- ``subject``: the object key, URL-decoded (S3 sends ``my+photo.jpg`` for ``my photo.jpg``);
- ``time``: ``eventTime``; ``data``: the record;
- ``id``: ``<x-amz-request-id>.<x-amz-id-2>.<sequencer>`` (CNCF id plus the sequencer, so the
  records of one multi-object delete stay apart; without a sequencer, as for tagging, ACL and
  restore events, the CNCF id alone). Without ``responseElements`` (moto, S3-compatible stores)
  a hash of bucket, key, version, sequencer, event name and event time: the last two keep two
  writes of one key apart where the emulator sends neither version nor sequencer.

EventBridge S3 event -> CloudEvent: ``type`` from :data:`EVENTBRIDGE_NAMES`, ``id`` the
EventBridge id, ``source`` as for a notification, ``subject`` the key (EventBridge does not
URL-encode it), ``time`` the event time, ``data`` the ``detail``.
"""

from __future__ import annotations

from typing import Any

from cloudevents.http import CloudEvent

from portable._events import content_id, new_event
from portable.storage import AWS_PREFIX, decoded_s3_key

from ._fields import event_time, require, text

JSON = "application/json"

# (detail-type, reason, deletion-type) -> the notification eventName. "" matches any value;
# lookups try the most specific key first (see eventbridge_name).
EVENTBRIDGE_NAMES: dict[tuple[str, str, str], str] = {
    ("Object Created", "PutObject", ""): "ObjectCreated:Put",
    ("Object Created", "PostObject", ""): "ObjectCreated:Post",
    ("Object Created", "POST Object", ""): "ObjectCreated:Post",
    ("Object Created", "CopyObject", ""): "ObjectCreated:Copy",
    ("Object Created", "CompleteMultipartUpload", ""): "ObjectCreated:CompleteMultipartUpload",
    ("Object Created", "", ""): "ObjectCreated:*",
    ("Object Deleted", "", "Delete Marker Created"): "ObjectRemoved:DeleteMarkerCreated",
    ("Object Deleted", "", "Permanently Deleted"): "ObjectRemoved:Delete",
    ("Object Deleted", "", ""): "ObjectRemoved:*",
    ("Object Deleted", "Lifecycle Expiration", "Delete Marker Created"):
        "LifecycleExpiration:DeleteMarkerCreated",
    ("Object Deleted", "Lifecycle Expiration", "Permanently Deleted"): "LifecycleExpiration:Delete",
    ("Object Deleted", "Lifecycle Expiration", ""): "LifecycleExpiration:*",
    ("Object Restore Initiated", "", ""): "ObjectRestore:Post",
    ("Object Restore Completed", "", ""): "ObjectRestore:Completed",
    ("Object Restore Expired", "", ""): "ObjectRestore:Delete",
    ("Object Tags Added", "", ""): "ObjectTagging:Put",
    ("Object Tags Deleted", "", ""): "ObjectTagging:Delete",
    ("Object ACL Updated", "", ""): "ObjectAcl:Put",
    ("Object Storage Class Changed", "", ""): "LifecycleTransition",
    ("Object Access Tier Changed", "", ""): "IntelligentTiering",
}
EVENTBRIDGE_DETAIL_TYPES = frozenset(detail_type for detail_type, _, _ in EVENTBRIDGE_NAMES)
EVENTBRIDGE_SOURCE = "aws.s3"
NOTIFICATION_SOURCE = "aws:s3"
COMPATIBLE_PREFIX = "s3:"


def is_notification(obj: Any) -> bool:
    """An S3 event notification: ``Records`` that each carry an ``s3`` object."""
    records = obj.get("Records") if isinstance(obj, dict) else None
    return bool(records) and isinstance(records, list) and all(
        isinstance(record, dict) and "s3" in record for record in records)


def from_notification(obj: dict[str, Any]) -> list[CloudEvent]:
    return [from_record(record) for record in obj["Records"]]


def from_record(record: dict[str, Any]) -> CloudEvent:
    bucket, obj, key, name = _record_fields(record)
    origin = record.get("eventSource") or NOTIFICATION_SOURCE
    return new_event({
        "id": record_id(record, bucket, key, obj),
        "source": f"{origin}.{record.get('awsRegion') or ''}.{bucket}",
        "type": AWS_PREFIX + name.removeprefix(COMPATIBLE_PREFIX),
        "subject": decoded_s3_key(key),
        "time": event_time(record.get("eventTime")),
        "datacontenttype": JSON,
    }, record)


def _record_fields(record: dict[str, Any]) -> tuple[str, dict[str, Any], str, str]:
    """The bucket name, ``s3.object``, the key as sent and the eventName of a record.

    Read directly first: walking each path with :func:`require` costs more than the rest of
    the conversion. Only a record that fails that walk goes through :func:`require` and
    :func:`text`, for the message naming the field that is wrong.
    """
    try:
        s3 = record["s3"]
        obj = s3["object"]
        bucket, key, name = s3["bucket"]["name"], obj["key"], record["eventName"]
        if str is bucket.__class__ is key.__class__ is name.__class__ and bucket and key and name:
            return bucket, obj, key, name
    except (LookupError, TypeError):
        pass
    what = "S3 notification record"
    s3 = require(record, "s3", what=what)
    bucket = text(s3, "bucket", "name", what=what, at="s3")
    obj = require(s3, "object", what=what, at="s3")
    key = text(obj, "key", what=what, at="s3.object")
    return bucket, obj, key, text(record, "eventName", what=what)


def record_id(record: dict[str, Any], bucket: str, key: str, obj: dict[str, Any]) -> str:
    """The CloudEvent id of a notification record (module docstring), from its fields read
    already: the bucket name, the object key as sent, ``s3.object``."""
    response = record.get("responseElements") or {}
    request_id, host_id = response.get("x-amz-request-id"), response.get("x-amz-id-2")
    sequencer = obj.get("sequencer")
    if request_id and host_id:
        return f"{request_id}.{host_id}.{sequencer}" if sequencer else f"{request_id}.{host_id}"
    return content_id(bucket, key, obj.get("versionId"), sequencer,
                      record.get("eventName"), record.get("eventTime"))


def is_eventbridge(event: dict[str, Any]) -> bool:
    """An EventBridge event about an S3 object (not, e.g., a CloudTrail API call on S3)."""
    return (event.get("source") == EVENTBRIDGE_SOURCE
            and event.get("detail-type") in EVENTBRIDGE_DETAIL_TYPES)


def from_eventbridge(event: dict[str, Any]) -> CloudEvent:
    what = "EventBridge S3 event"
    detail = require(event, "detail", what=what)
    bucket = text(detail, "bucket", "name", what=what + " detail")
    return new_event({
        "id": text(event, "id", what=what),
        "source": f"{NOTIFICATION_SOURCE}.{event.get('region') or ''}.{bucket}",
        "type": AWS_PREFIX + eventbridge_name(event["detail-type"], detail),
        "subject": text(detail, "object", "key", what=what + " detail"),
        "time": event_time(event.get("time")),
        "datacontenttype": JSON,
    }, detail)


def eventbridge_name(detail_type: str, detail: dict[str, Any]) -> str:
    """The notification eventName an EventBridge S3 event corresponds to."""
    reason = str(detail.get("reason") or "")
    deletion = str(detail.get("deletion-type") or "")
    for key in ((detail_type, reason, deletion), (detail_type, reason, ""),
                (detail_type, "", deletion)):
        if key in EVENTBRIDGE_NAMES:
            return EVENTBRIDGE_NAMES[key]
    return EVENTBRIDGE_NAMES[(detail_type, "", "")]
