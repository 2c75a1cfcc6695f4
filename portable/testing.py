"""A testing kit: the providers' real payload shapes from a few arguments, a fake Lambda
context, and a harness that runs a handler through any entry and says what happened.

Factories (plain dicts and small objects, shaped key for key like what the platforms send;
every argument has a default)::

    testing.s3_event(testing.s3_record("bucket", "photos/a b.jpg", size=12))   # S3 -> Lambda
    testing.sqs_batch("body", testing.sqs_message({"a": 1}, receive_count=3))   # SQS -> Lambda
    testing.event_grid_event(data, type=..., schema="cloudevents")              # Event Grid
    testing.blob_created_event("uploads", "a.txt")                              # BlobCreated
    testing.blob_input_stream("uploads/a.txt", b"content")                      # blob trigger
    testing.queue_message(body, dequeue_count=2)                                # queue trigger
    testing.pubsub_push(b"data", event=cloudevent, delivery_attempt=1)          # Pub/Sub push
    testing.gcs_notification("bucket", "a.txt")                                 # GCS -> Pub/Sub
    testing.lambda_context(remaining=30)

The harness delivers a payload through an entry (``via``) with an in-memory store and sink,
redelivering it as the platform would (up to ``attempts`` deliveries, the delivery counter of
the payload raised each time: SQS ``ApproximateReceiveCount``, a queue message's
``dequeue_count``, Pub/Sub's ``deliveryAttempt``; SQS redelivers only the failed messages)::

    report = testing.run(handle, testing.sqs_batch(order), via="aws", attempts=3)
    report.ran            # event ids, one per call of the handler (in-process retries too)
    report.processed, report.duplicates, report.skipped, report.retried, report.dead_lettered
    report.dead_letters   # the DeadLetters written
    report.response       # what the entry answered last (or the RedeliveryRequired it raised)

In-process retries do not sleep. Nothing here talks to a network.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote_plus

from cloudevents.http import CloudEvent

from ._app import _IGNORE, App, Handler, Route, as_app
from ._deadletter import DeadLetter, MemorySink, Sink
from ._entry import RedeliveryRequired
from ._events import to_binary
from ._logging import configure, logger
from ._retry import policy_from
from ._store import MemoryStore, Store

__all__ = [
    "BlobInputStream",
    "FakeLambdaContext",
    "QueueMessage",
    "Report",
    "blob_created_event",
    "blob_input_stream",
    "event_grid_event",
    "gcs_notification",
    "gcs_object",
    "lambda_context",
    "pubsub_push",
    "queue_message",
    "run",
    "s3_event",
    "s3_record",
    "sqs_batch",
    "sqs_message",
]

REGION = "us-east-1"
ACCOUNT = "123456789012"
EPOCH_TIME = "2024-05-01T10:00:00.000Z"
EPOCH = datetime(2024, 5, 1, 10, tzinfo=UTC)
"""The default event time of every factory: payloads are the same on every run."""


def _hex(*parts: Any, length: int = 16) -> str:
    """A stable hex string from the arguments (ids that do not change between runs)."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:length].upper()


# -- AWS ---------------------------------------------------------------------------------------

def s3_record(bucket: str = "bucket", key: str = "key", *,
              event_name: str = "ObjectCreated:Put", size: int = 0, etag: str | None = None,
              version: str | None = None, sequencer: str | None = None, region: str = REGION,
              time: str = EPOCH_TIME, request_id: str | None = None) -> dict[str, Any]:
    """One S3 notification record (eventVersion 2.1), the key URL-encoded as S3 sends it.
    Deletions carry no size or eTag."""
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/")}
    if not event_name.startswith("ObjectRemoved"):
        obj.update(size=size, eTag=etag or _hex(bucket, key, size, length=32).lower())
    if version is not None:
        obj["versionId"] = version
    obj["sequencer"] = sequencer or _hex(bucket, key, event_name, time, length=18)
    return {
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": region,
        "eventTime": time, "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": request_id or _hex(bucket, key, time),
                             "x-amz-id-2": base64.b64encode(_hex(key, time).encode()).decode()},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "portable-test",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3EXAMPLE"},
                          "arn": f"arn:aws:s3:::{bucket}"},
               "object": obj},
    }


def s3_event(*records: dict[str, Any], **record: Any) -> dict[str, Any]:
    """An S3 notification as Lambda receives it directly: ``{"Records": [...]}``; with no
    records given, one built by :func:`s3_record` from the keyword arguments."""
    return {"Records": list(records) or [s3_record(**record)]}


def sqs_message(body: Any = "", *, message_id: str | None = None,
                attributes: Mapping[str, str | bytes] | None = None, receive_count: int = 1,
                queue: str = "queue", group: str | None = None, region: str = REGION,
                sent: int = 1714557600000, trace_header: str | None = None) -> dict[str, Any]:
    """One SQS record as Lambda receives it. ``body``: text, or JSON of anything else.
    ``attributes``: message attributes (str -> String, bytes -> Binary). ``queue``: its name;
    a ``.fifo`` queue or a ``group`` gives FIFO attributes. ``trace_header``: the X-Ray header
    SQS keeps with a traced message (``AWSTraceHeader``). The message id derives from the
    queue and the body: give two messages with the same body their own ``message_id``."""
    text = body if isinstance(body, str) else json.dumps(body)
    message_id = message_id or str(uuid.uuid5(uuid.NAMESPACE_OID, f"{queue}:{text}"))
    fifo = queue.endswith(".fifo") or group is not None
    system = {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": str(sent)}
    if fifo:
        system.update(SequenceNumber=str(sent * 1000), MessageGroupId=group or "group",
                      MessageDeduplicationId=_hex(text))
    system.update(SenderId="AIDAEXAMPLE", ApproximateFirstReceiveTimestamp=str(sent + 2))
    if trace_header is not None:
        system["AWSTraceHeader"] = trace_header
    return {
        "messageId": message_id, "receiptHandle": f"AQEB{_hex(message_id, receive_count)}",
        "body": text, "attributes": system,
        "messageAttributes": {name: _sqs_attribute(value)
                              for name, value in (attributes or {}).items()},
        "md5OfBody": hashlib.md5(text.encode()).hexdigest(),  # noqa: S324 - SQS's checksum
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{region}:{ACCOUNT}:{queue}", "awsRegion": region,
    }


def _sqs_attribute(value: str | bytes) -> dict[str, Any]:
    if isinstance(value, bytes):
        return {"binaryValue": base64.b64encode(value).decode(), "stringListValues": [],
                "binaryListValues": [], "dataType": "Binary"}
    return {"stringValue": value, "stringListValues": [], "binaryListValues": [],
            "dataType": "String"}


def sqs_batch(*messages: Any, queue: str = "queue", receive_count: int = 1) -> dict[str, Any]:
    """An SQS batch as Lambda receives it; each message is a record from :func:`sqs_message`
    or a body (text, or JSON of anything else) made into one."""
    return {"Records": [m if isinstance(m, dict) and "messageId" in m
                        else sqs_message(m, queue=queue, receive_count=receive_count)
                        for m in messages]}


@dataclass
class FakeLambdaContext:
    """The parts of Lambda's context object handlers and entries read."""

    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_name: str = "portable-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128
    deadline: float = field(default_factory=lambda: time.time() + 300)
    log_group_name: str = "/aws/lambda/portable-test"
    log_stream_name: str = "2024/05/01/[$LATEST]portable"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.time()) * 1000))


def lambda_context(remaining: float = 300.0, request_id: str | None = None) -> FakeLambdaContext:
    """A Lambda context with ``remaining`` seconds left."""
    return FakeLambdaContext(aws_request_id=request_id or str(uuid.uuid4()),
                             deadline=time.time() + remaining)


# -- Azure -------------------------------------------------------------------------------------

Schema = Literal["eventgrid", "cloudevents"]
STORAGE_ACCOUNT_ID = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/"
                      "providers/Microsoft.Storage/storageAccounts/{account}")


def event_grid_event(data: Any = None, *, type: str = "Microsoft.Storage.BlobCreated",  # noqa: A002
                     id: str | None = None, subject: str = "",  # noqa: A002
                     source: str = STORAGE_ACCOUNT_ID.format(account="account"),
                     time: str = EPOCH_TIME, schema: Schema = "eventgrid",
                     extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One Event Grid event, in the Event Grid schema (``topic``, ``eventType``...) or the
    CloudEvents schema (``specversion``, ``source``...). ``extra``: more top-level fields
    (``datacontenttype``, extension attributes, ``dataVersion``...)."""
    id = id or str(uuid.uuid5(uuid.NAMESPACE_OID, f"{source}{subject}{type}{time}"))
    if schema == "cloudevents":
        return {"specversion": "1.0", "type": type, "source": source, "id": id, "time": time,
                "subject": subject, "data": data, **(extra or {})}
    return {"topic": source, "subject": subject, "eventType": type, "eventTime": time,
            "id": id, "data": data, "dataVersion": "", "metadataVersion": "1", **(extra or {})}


def blob_created_event(container: str = "container", name: str = "blob", *,
                       account: str = "account", size: int = 0, etag: str = "0x8DC0000000000000",
                       content_type: str = "application/octet-stream", api: str = "PutBlob",
                       schema: Schema = "eventgrid", time: str = EPOCH_TIME) -> dict[str, Any]:
    """The ``Microsoft.Storage.BlobCreated`` event of a blob, with Event Grid's data."""
    url = f"https://{account}.blob.core.windows.net/{container}/{name}"
    data = {"api": api, "clientRequestId": str(uuid.uuid5(uuid.NAMESPACE_URL, url + etag)),
            "requestId": str(uuid.uuid5(uuid.NAMESPACE_URL, etag + url)), "eTag": etag,
            "contentType": content_type, "contentLength": size, "blobType": "BlockBlob",
            "url": url, "sequencer": _hex(url, etag, length=32).lower(),
            "storageDiagnostics": {"batchId": str(uuid.uuid5(uuid.NAMESPACE_URL, etag))}}
    return event_grid_event(data, type="Microsoft.Storage.BlobCreated",
                            subject=f"/blobServices/default/containers/{container}/blobs/{name}",
                            source=STORAGE_ACCOUNT_ID.format(account=account), time=time,
                            schema=schema)


@dataclass
class BlobInputStream:
    """Shaped like ``azure.functions.InputStream``, as the blob trigger passes it."""

    name: str
    uri: str
    length: int | None
    blob_properties: dict[str, Any] | None
    metadata: dict[str, str] | None
    content: bytes = b""

    def read(self, size: int = -1) -> bytes:
        return self.content if size < 0 else self.content[:size]


def blob_input_stream(name: str = "container/blob", content: bytes = b"", *,
                      account: str = "account", etag: str = "0x8DC0000000000000",
                      content_type: str = "application/octet-stream",
                      metadata: dict[str, str] | None = None,
                      modified: str = "2024-05-01T10:00:00+00:00") -> BlobInputStream:
    """A blob trigger's InputStream for ``container/path`` with the host's ``Properties``
    (ETag, ContentLength, BlobType... as the host serializes them)."""
    properties = {
        "ContentMD5": base64.b64encode(hashlib.md5(content).digest()).decode(),  # noqa: S324
        "ContentType": content_type, "ETag": etag, "Created": modified, "LastModified": modified,
        "BlobType": 2, "LeaseStatus": 2, "LeaseState": 1, "LeaseDuration": 0,
        "ContentLength": str(len(content)),
    }
    return BlobInputStream(name, f"https://{account}.blob.core.windows.net/{name}", len(content),
                           properties, metadata or {}, content)


@dataclass
class QueueMessage:
    """Shaped like ``azure.functions.QueueMessage``, as the queue trigger passes it."""

    body: bytes
    id: str = "message-1"
    dequeue_count: int = 1
    insertion_time: datetime = EPOCH
    expiration_time: datetime = EPOCH + timedelta(days=7)
    time_next_visible: datetime = EPOCH + timedelta(minutes=10)
    pop_receipt: str = "receipt"

    def get_body(self) -> bytes:
        return self.body

    def get_json(self) -> Any:
        return json.loads(self.body)


def queue_message(body: Any = "", *, id: str | None = None,  # noqa: A002
                  dequeue_count: int = 1, inserted: datetime = EPOCH) -> QueueMessage:
    """A queue trigger's message (body already base64-decoded by the host); ``body`` is
    bytes, text, or JSON of anything else. Times are datetimes, as the host gives them."""
    raw = body if isinstance(body, bytes) else (
        body if isinstance(body, str) else json.dumps(body)).encode()
    return QueueMessage(raw, id or str(uuid.uuid5(uuid.NAMESPACE_OID, raw.hex())), dequeue_count,
                        inserted, inserted + timedelta(days=7), inserted + timedelta(minutes=10))


# -- Google Cloud ------------------------------------------------------------------------------

def pubsub_push(data: Any = b"", *, event: CloudEvent | None = None,
                attributes: Mapping[str, str] | None = None, message_id: str | None = None,
                delivery_attempt: int | None = None, ordering_key: str | None = None,
                subscription: str = "projects/project/subscriptions/push",
                publish_time: str = EPOCH_TIME) -> dict[str, Any]:
    """A Pub/Sub push request body. ``data``: bytes, text, or JSON of anything else.
    ``event``: a CloudEvent in binary mode instead (``ce-*`` attributes, its data).
    ``delivery_attempt``: sent only by subscriptions with a dead-letter policy."""
    attrs = dict(attributes or {})
    if event is not None:
        headers, body = to_binary(event)
        attrs, data = {**attrs, **headers}, body or b""
    raw = data if isinstance(data, bytes) else (
        data if isinstance(data, str) else json.dumps(data)).encode()
    message_id = message_id or str(int(_hex(raw.hex(), json.dumps(attrs, sort_keys=True)), 16)
                                   % 10**16)
    message: dict[str, Any] = {"attributes": attrs, "data": base64.b64encode(raw).decode(),
                               "messageId": message_id, "message_id": message_id,
                               "publishTime": publish_time, "publish_time": publish_time}
    if ordering_key is not None:
        message["orderingKey"] = ordering_key
    envelope: dict[str, Any] = {"message": message, "subscription": subscription}
    if delivery_attempt is not None:
        envelope["deliveryAttempt"] = delivery_attempt
    return envelope


def gcs_object(bucket: str = "bucket", name: str = "object", *, size: int = 0,
               generation: str = "1714557600000000", content_type: str = "text/plain",
               time: str = EPOCH_TIME) -> dict[str, Any]:
    """A Cloud Storage object resource (StorageObjectData), as the JSON API gives it."""
    path = quote_plus(name, safe="")
    return {
        "bucket": bucket, "contentType": content_type, "crc32c": "AAAAAA==",
        "etag": base64.b64encode(generation.encode()[:8]).decode(), "generation": generation,
        "id": f"{bucket}/{name}/{generation}", "kind": "storage#object",
        "md5Hash": base64.b64encode(hashlib.md5(name.encode()).digest()).decode(),  # noqa: S324
        "mediaLink": f"https://storage.googleapis.com/download/storage/v1/b/{bucket}/o/{path}"
                     f"?generation={generation}&alt=media",
        "metageneration": "1", "name": name,
        "selfLink": f"https://www.googleapis.com/storage/v1/b/{bucket}/o/{path}",
        "size": str(size), "storageClass": "STANDARD", "timeCreated": time,
        "timeStorageClassUpdated": time, "updated": time,
    }


def gcs_notification(bucket: str = "bucket", name: str = "object", *,
                     event_type: str = "OBJECT_FINALIZE", size: int = 0,
                     generation: str = "1714557600000000", time: str = EPOCH_TIME,
                     overwritten_by: str | None = None, message_id: str | None = None,
                     delivery_attempt: int | None = None,
                     publish_time: str | None = None) -> dict[str, Any]:
    """A Cloud Storage Pub/Sub notification (payload format JSON_API_V1) as a push request
    body: the object resource as data, the notification's attributes. ``publish_time``:
    when Pub/Sub took the message (default: the event's time)."""
    attributes = {
        "notificationConfig": f"projects/_/buckets/{bucket}/notificationConfigs/1",
        "eventType": event_type, "payloadFormat": "JSON_API_V1", "bucketId": bucket,
        "objectId": name, "objectGeneration": generation, "eventTime": time,
    }
    if overwritten_by is not None:
        attributes["overwrittenByGeneration"] = overwritten_by
    return pubsub_push(gcs_object(bucket, name, size=size, generation=generation, time=time),
                       attributes=attributes, message_id=message_id,
                       delivery_attempt=delivery_attempt, publish_time=publish_time or time,
                       subscription=f"projects/project/subscriptions/{bucket}-notifications")


# -- the harness -------------------------------------------------------------------------------

@dataclass
class Report:
    """What happened to a payload delivered through an entry."""

    ran: list[str] = field(default_factory=list)
    """Event ids, one per call of the handler (in-process retries and redeliveries too)."""
    outcomes: list[tuple[str | None, str]] = field(default_factory=list)
    """(event id, outcome) per event and delivery, in order: processed, duplicate, skipped,
    retry, dead_lettered (bad input has no event id)."""
    dead_letters: list[DeadLetter] = field(default_factory=list)
    responses: list[Any] = field(default_factory=list)
    """What the entry answered, one per delivery (an exception it raised, as raised)."""

    @property
    def response(self) -> Any:
        return self.responses[-1] if self.responses else None

    @property
    def deliveries(self) -> int:
        return len(self.responses)

    def _with(self, outcome: str) -> list[str | None]:
        return [event_id for event_id, seen in self.outcomes if seen == outcome]

    @property
    def processed(self) -> list[str | None]:
        return self._with("processed")

    @property
    def duplicates(self) -> list[str | None]:
        return self._with("duplicate")

    @property
    def skipped(self) -> list[str | None]:
        return self._with("skipped")

    @property
    def retried(self) -> list[str | None]:
        return self._with("retry")

    @property
    def dead_lettered(self) -> list[str | None]:
        return self._with("dead_lettered")


Delivery = Callable[[Any], tuple[Any, Any]]
"""One delivery: payload -> (the entry's answer, the payload to redeliver, or None)."""


def run(handle: App | Handler, payload: Any, *, via: str = "aws", attempts: int = 1,
        store: Store | None = None, dlq: Sink | None = None,
        context: FakeLambdaContext | None = None, **pipeline_options: Any) -> Report:
    """Deliver ``payload`` through the ``via`` entry (a key of :data:`ENTRIES`: ``aws``,
    ``azure-blob``, ``azure-eventgrid``, ``azure-queue``, ``azure-webhook``, ``gcp-push``,
    ``gcp-cloudevent``), redelivering what it does not
    acknowledge, up to ``attempts`` deliveries. ``store`` / ``dlq``: in memory unless given
    (pass the same ones to a second run to continue). ``pipeline_options``: as for the entry
    (``max_attempts``, ``retry``, ``key``...); in-process retries do not sleep."""
    if via not in ENTRIES:
        raise ValueError(f"unknown via {via!r}; expected one of {', '.join(ENTRIES)}")
    report = Report()
    sink = dlq if dlq is not None else MemorySink()
    app = as_app(handle)
    options = {**pipeline_options, "store": store or MemoryStore(), "dlq": sink,
               "retry": policy_from(pipeline_options.get("retry", app.options.get("retry")))
               .without_sleeping()}
    before = {letter.id for letter in sink.list(limit=10_000)}
    with _outcomes(report.outcomes):
        deliver = ENTRIES[via](_Recorder(app, report.ran), options, context)
        pending, number = payload, 0
        while pending is not None and number < attempts:
            number += 1
            answer, pending = deliver(pending)
            report.responses.append(answer)
    report.dead_letters = [letter for letter in sink.list(limit=10_000)
                           if letter.id not in before]
    return report


class _Recorder(App):
    """``app``, noting the event id of every call of a handler."""

    def __init__(self, app: App, ran: list[str]) -> None:
        super().__init__(app.display_name, ignore_unmatched=app.ignore_unmatched, **app.options)
        self.routes = app.routes
        self.ran = ran

    def route(self, event: CloudEvent) -> Route:
        route = super().route(event)
        if route is _IGNORE:
            return route
        return route._replace(handler=self._noting(route.handler))

    def _noting(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def noted(event: CloudEvent, *data: Any) -> Any:
            self.ran.append(str(event["id"]))
            return fn(event, *data)
        return noted


class _Collector(logging.Handler):
    def __init__(self, outcomes: list[tuple[str | None, str]]) -> None:
        super().__init__(logging.INFO)
        self.outcomes = outcomes

    def emit(self, record: logging.LogRecord) -> None:
        outcome = record.__dict__.get("outcome")
        if outcome is not None:
            self.outcomes.append((record.__dict__.get("event_id"), str(outcome)))


@contextmanager
def _outcomes(outcomes: list[tuple[str | None, str]]) -> Iterator[None]:
    """Collect the outcome the pipeline logs for each event (one line per event)."""
    configure()
    collector, level = _Collector(outcomes), logger.level
    logger.addHandler(collector)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(collector)
        logger.setLevel(level)


# -- the entries, and how each platform redelivers ------------------------------------------------

def _aws(app: App, options: dict[str, Any], context: FakeLambdaContext | None) -> Delivery:
    from adapters.aws import lambda_handler

    function = lambda_handler(app, **options)

    def deliver(payload: Any) -> tuple[Any, Any]:
        try:
            answer = function(payload, context or lambda_context())
        except RedeliveryRequired as exc:
            return exc, _sqs_received(payload, None)
        failures = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
        return answer, _sqs_received(payload, failures) if failures else None

    return deliver


def _sqs_received(payload: Any, only: set[str] | None) -> Any:
    """The payload Lambda invokes again: for SQS the failed messages (``only``; all if None),
    received once more; anything else unchanged."""
    records = payload.get("Records") if isinstance(payload, dict) else None
    if not records or records[0].get("eventSource") != "aws:sqs":
        return payload
    again = []
    for record in records:
        if only is None or record["messageId"] in only:
            count = int(record["attributes"]["ApproximateReceiveCount"]) + 1
            again.append({**record, "attributes": {**record["attributes"],
                                                   "ApproximateReceiveCount": str(count)}})
    return {**payload, "Records": again}


def _triggers(app: App, options: dict[str, Any]) -> Any:
    from adapters.azure.entry import Triggers

    from ._pipeline import Pipeline

    return Triggers(Pipeline(app, **options), AZURE_QUEUE)


AZURE_QUEUE = "events"
"""The queue name the azure-queue harness registers (the source of plain messages)."""


def _azure(trigger: str, again: Callable[[Any], Any]) -> Callable[..., Delivery]:
    def entry(app: App, options: dict[str, Any], context: FakeLambdaContext | None) -> Delivery:
        call = getattr(_triggers(app, options), trigger)

        def deliver(payload: Any) -> tuple[Any, Any]:
            try:
                return call(payload, "invocation-1"), None
            except RedeliveryRequired as exc:
                return exc, again(payload)

        return deliver

    return entry


def _dequeued_again(message: QueueMessage) -> QueueMessage:
    return replace(message, dequeue_count=message.dequeue_count + 1)


def _webhook(app: App, options: dict[str, Any], context: FakeLambdaContext | None) -> Delivery:
    triggers = _triggers(app, options)
    headers = {"aeg-event-type": "Notification", "content-type": "application/json"}

    def deliver(payload: Any) -> tuple[Any, Any]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        answer = triggers.webhook("POST", headers, body, None, "invocation-1")
        return answer, None if answer.status == 200 else payload

    return deliver


def _gcp_push(app: App, options: dict[str, Any], context: FakeLambdaContext | None) -> Delivery:
    import flask
    from werkzeug.test import EnvironBuilder

    from adapters.gcp import push_handler

    function = push_handler(app, **options)

    def deliver(payload: Any) -> tuple[Any, Any]:
        environ = EnvironBuilder(method="POST", path="/", json=payload).get_environ()
        answer = function(flask.Request(environ))
        return answer, None if answer[1] < 300 else _attempted_again(payload)

    return deliver


def _attempted_again(envelope: Any) -> Any:
    """A push envelope redelivered: ``deliveryAttempt`` counts up where the subscription
    sends it."""
    if isinstance(envelope, dict) and "deliveryAttempt" in envelope:
        return {**envelope, "deliveryAttempt": envelope["deliveryAttempt"] + 1}
    return envelope


def _gcp_cloudevent(app: App, options: dict[str, Any],
                    context: FakeLambdaContext | None) -> Delivery:
    from adapters.gcp import cloud_function

    function = cloud_function(app, **options)

    def deliver(payload: Any) -> tuple[Any, Any]:
        try:
            return function(payload), None
        except RedeliveryRequired as exc:
            return exc, payload

    return deliver


def _same(payload: Any) -> Any:
    return payload


ENTRIES: dict[str, Callable[[App, dict[str, Any], FakeLambdaContext | None], Delivery]] = {
    "aws": _aws,
    "azure-blob": _azure("blob", _same),
    "azure-eventgrid": _azure("event_grid", _same),
    "azure-queue": _azure("queue_message", _dequeued_again),
    "azure-webhook": _webhook,
    "gcp-push": _gcp_push,
    "gcp-cloudevent": _gcp_cloudevent,
}
