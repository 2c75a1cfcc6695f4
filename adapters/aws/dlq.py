"""The SQS dead-letter sink: ``sqs://queue`` for the pipeline and ``portable dlq``.

URL forms (endpoint, region and credentials come from the usual AWS settings, e.g.
``AWS_ENDPOINT_URL``; never from the URL):

- ``sqs://<name>``: the queue of that name in the configured account and region (GetQueueUrl
  on first use). The same URL works on AWS and on an emulator, so prefer it;
- ``sqs://<host>/<account>/<name>``: a queue URL without its scheme, as the console shows it
  (``sqs://sqs.eu-west-1.amazonaws.com/123456789012/orders-dlq``; its region is used);
- options: ``?create=true`` creates the queue (a ``.fifo`` name makes a FIFO queue, where
  each letter is a message group of its own);
  ``?region=`` overrides the region; ``?wait=N`` (0-20, default 1) is the long-poll wait of
  each receive when reading (see below).

**Writing.** ``put`` sends the dead letter's JSON as the body, with message attributes to
filter and read it by in the console: ``portable.letter`` (its id), ``portable.error`` (the
error type), ``portable.event-id``, ``portable.event-type``, ``portable.handler``,
``portable.attempts`` and ``portable.sent`` (nanoseconds, to order letters sent within one
millisecond). A letter written again under the same id (a replay that failed again) supersedes
the older message, which the next read deletes.

**Reading.** SQS has no random access: ``list``, ``get``, ``delete`` and ``purge`` each read
the whole queue, receiving every message with a visibility timeout of 30 s (so that each
receive returns new ones) until a receive comes back empty, then make what they did not delete
visible again at once. Meanwhile other consumers do not see those messages; should the reader
die, they reappear after 30 s. The long-poll wait makes the last, empty receive reliable on
AWS (a short poll samples only some servers and may miss messages of a small queue); an
emulator answers completely without it (``?wait=0``). Letters are listed oldest first. In a
FIFO queue that SQS's redrive fills, a read sees at most 10 messages of each message group:
SQS hands out no more of a group while some of it is in flight.

**Platform dead letters.** Messages that SQS's redrive policy moved here (the queue is the
``deadLetterTargetArn`` of another) are read as dead letters too: id = the SQS message id,
``raw`` = the body, ``event`` = the CloudEvent the Lambda entry would have made of the message
(when it is exactly one), attempts = the source queue's ``maxReceiveCount`` and ``origin`` =
``{"kind": "sqs-redrive", "source": <source queue ARN>, ...}``. The source is the message's
``DeadLetterQueueSourceArn``, or, where SQS does not give it (moto), the one queue whose redrive
policy targets this one. :meth:`SQSSink.redeliver` sends such a message, body and attributes,
back to its source queue (``portable dlq replay``, which then deletes it here). Messages of a
Lambda asynchronous DLQ carry their error in ``ErrorCode`` / ``ErrorMessage`` attributes.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from portable._config import backend_url
from portable._deadletter import DeadLetter, HoldingSink
from portable._errors import (
    ConfigurationError,
    MalformedEventError,
    PortableError,
    SinkUnavailable,
)
from portable._events import to_structured

from . import _sqs
from ._clients import client
from ._errors import mapped
from ._fields import rfc3339
from .ingress import to_cloudevents

REDRIVE = "sqs-redrive"
UNKNOWN_ORIGIN = "sqs"
SCAN_VISIBILITY = 30
DEFAULT_WAIT = 1
BATCH = 10
MAX_VALUE = 256
FIFO_SUFFIX = ".fifo"
LETTER_ID = "portable.letter"
SENT = "portable.sent"
# message attribute -> (data type, what of the letter it holds)
LETTER_ATTRIBUTES: dict[str, tuple[str, Callable[[DeadLetter], object]]] = {
    LETTER_ID: (_sqs.STRING, lambda letter: letter.id),
    "portable.error": (_sqs.STRING, lambda letter: letter.error.get("type")),
    "portable.event-id": (_sqs.STRING, lambda letter: (letter.event or {}).get("id")),
    "portable.event-type": (_sqs.STRING, lambda letter: (letter.event or {}).get("type")),
    "portable.handler": (_sqs.STRING, lambda letter: letter.handler),
    "portable.attempts": (_sqs.NUMBER, lambda letter: letter.attempts),
}
LAMBDA_ERROR_CODE, LAMBDA_ERROR_MESSAGE = "ErrorCode", "ErrorMessage"


@dataclass(frozen=True)
class QueueSpec:
    """A parsed ``sqs://`` URL."""

    name: str
    url: str | None
    create: bool
    wait: int
    region: str | None

    @classmethod
    def parse(cls, url: str) -> QueueSpec:
        expected = "sqs://queue-name or sqs://host/account/queue-name"
        parsed = backend_url(url, "sqs", ("create", "wait", "region"), "SQS sink", expected)
        segments = parsed.location.split("/")
        if len(segments) not in (1, 3) or not all(segments):
            raise ConfigurationError(f"not an SQS sink URL: {url!r} (expected {expected})")
        queue_url = f"https://{parsed.location}" if len(segments) == 3 else None
        wait = parsed.options.get("wait", str(DEFAULT_WAIT))
        if not wait.isdigit() or int(wait) > 20:
            raise ConfigurationError(f"{url!r}: wait must be 0-20 seconds")
        return cls(
            name=segments[-1],
            url=queue_url,
            create=parsed.flag("create"),
            wait=int(wait),
            region=parsed.options.get("region") or (
                _sqs.region_of(queue_url) if queue_url else None),
        )


@dataclass(frozen=True)
class SourceQueue:
    """A queue whose redrive policy sends its failures to the sink's queue."""

    url: str
    max_receive: int | None


@dataclass
class Held:
    """A message received by a read, with its letter; ``deleted`` once gone."""

    message: dict[str, Any]
    letter: DeadLetter
    deleted: bool = False

    @property
    def order(self) -> tuple[int, int, str]:
        attributes = self.message.get("Attributes") or {}
        sent = (self.message.get("MessageAttributes") or {}).get(SENT, {})
        return (int(attributes.get("SentTimestamp") or 0), int(sent.get("StringValue") or 0),
                self.message["MessageId"])


HeldMessages = list[Held]  # ``list`` is a method name inside SQSSink


class SQSSink(HoldingSink[Held]):
    """Dead letters in an SQS queue (see the module docstring for URLs and semantics)."""

    def __init__(self, spec: QueueSpec) -> None:
        self.spec = spec
        self._what = f"SQS queue {spec.name!r}"
        self._sqs = client("sqs", SinkUnavailable, spec.region)
        self._url = spec.url
        self._arn: str | None = None
        self._sole_source: tuple[str | None] | None = None  # looked up once, "none" too
        self._sources: dict[str, SourceQueue] = {}
        self._lock = threading.Lock()
        if spec.create:
            self._create()

    @classmethod
    def from_url(cls, url: str) -> SQSSink:
        return cls(QueueSpec.parse(url))

    @contextmanager
    def _reaching(self) -> Iterator[None]:
        with mapped(SinkUnavailable, self._what):
            yield

    @property
    def fifo(self) -> bool:
        return self.spec.name.endswith(FIFO_SUFFIX)

    @property
    def queue_url(self) -> str:
        if self._url is None:
            with self._reaching():
                self._url = str(self._sqs.get_queue_url(QueueName=self.spec.name)["QueueUrl"])
        return self._url

    @property
    def queue_arn(self) -> str:
        if self._arn is None:
            self._arn = self._arn_of(self.queue_url)
        return self._arn

    def _create(self) -> None:
        attributes = {"FifoQueue": "true"} if self.fifo else {}
        with self._reaching():
            self._url = str(self._sqs.create_queue(QueueName=self.spec.name,
                                                   Attributes=attributes)["QueueUrl"])

    # -- writing --------------------------------------------------------------------------

    def put(self, letter: DeadLetter) -> None:
        message: dict[str, Any] = {"MessageBody": _sqs.json_text(asdict(letter)),
                                   "MessageAttributes": _letter_attributes(letter)}
        if self.fifo:
            # A group per letter: SQS hands out one batch per group at a time, and reading
            # must see every letter.
            message.update(MessageGroupId=letter.id, MessageDeduplicationId=uuid.uuid4().hex)
        with self._reaching():
            self._sqs.send_message(QueueUrl=self.queue_url, **message)

    def redeliver(self, letter: DeadLetter, target: str | None = None) -> bool:
        """Send a message SQS dead-lettered back to its source queue; False for any other."""
        origin = letter.origin or {}
        if origin.get("kind") != REDRIVE or not origin.get("source"):
            return False
        message: dict[str, Any] = {"QueueUrl": self._source(origin["source"]).url,
                                   "MessageBody": letter.raw or ""}
        attributes = _native_attributes(origin.get("message_attributes") or {})
        if attributes:
            message["MessageAttributes"] = attributes
        if origin.get("group_id"):
            message.update(MessageGroupId=origin["group_id"],
                           MessageDeduplicationId=uuid.uuid4().hex)
        with self._reaching():
            self._sqs.send_message(**message)
        return True

    # -- reading --------------------------------------------------------------------------

    @contextmanager
    def _holding(self) -> Iterator[HeldMessages]:
        """Every letter of the queue, oldest first, held invisible for the block; superseded
        copies are deleted, and what the block leaves is made visible again on exit."""
        held = self._receive_all()
        try:
            latest = {item.letter.id: item for item in held}
            self._remove([item for item in held if latest[item.letter.id] is not item])
            yield sorted(latest.values(), key=lambda item: item.order)
        finally:
            self._release([item for item in held if not item.deleted])

    def _receive_all(self) -> HeldMessages:
        received: dict[str, dict[str, Any]] = {}
        while True:
            with self._reaching():
                messages = self._sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=BATCH,
                    VisibilityTimeout=SCAN_VISIBILITY, WaitTimeSeconds=self.spec.wait,
                    MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"],
                ).get("Messages", [])
            new = [message for message in messages if message["MessageId"] not in received]
            received.update((message["MessageId"], message) for message in messages)
            if not new:
                break
        held = [Held(message, self._letter(message)) for message in received.values()]
        return sorted(held, key=lambda item: item.order)

    def _remove(self, items: Sequence[Held]) -> None:
        for start in range(0, len(items), BATCH):
            chunk = items[start:start + BATCH]
            with self._reaching():
                response = self._sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                    {"Id": str(n), "ReceiptHandle": item.message["ReceiptHandle"]}
                    for n, item in enumerate(chunk)])
            failed = {int(entry["Id"]) for entry in response.get("Failed", [])}
            for n, item in enumerate(chunk):
                item.deleted = n not in failed
            if failed:
                raise SinkUnavailable(f"{self._what}: could not delete {len(failed)} message(s): "
                                      f"{response['Failed'][0].get('Message')}")

    def _release(self, items: Sequence[Held]) -> None:
        """Visible again at once; should this fail, the visibility timeout does it later."""
        for start in range(0, len(items), BATCH):
            with contextlib.suppress(PortableError), self._reaching():
                self._sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=[
                    {"Id": str(n), "ReceiptHandle": item.message["ReceiptHandle"],
                     "VisibilityTimeout": 0}
                    for n, item in enumerate(items[start:start + BATCH])])

    # -- letters --------------------------------------------------------------------------

    def _letter(self, message: dict[str, Any]) -> DeadLetter:
        if LETTER_ID in (message.get("MessageAttributes") or {}):
            with contextlib.suppress(ValueError, TypeError):
                return DeadLetter.from_json(message["Body"])
        return self._platform_letter(message)

    def _platform_letter(self, message: dict[str, Any]) -> DeadLetter:
        """A message the platform dead-lettered (see the module docstring)."""
        system = message.get("Attributes") or {}
        attributes = message.get("MessageAttributes") or {}
        source = system.get("DeadLetterQueueSourceArn") or self._sole_source_arn()
        sent = _iso(system.get("SentTimestamp"))
        return DeadLetter(
            id=message["MessageId"],
            error=_platform_error(attributes, source),
            event=_event(message, source or self.queue_arn),
            raw=message.get("Body", ""),
            raw_encoding="utf-8",
            attempts=self._attempts(source, system),
            first_failure=sent,
            last_failure=sent,
            provider="aws",
            origin={
                "kind": REDRIVE if source else UNKNOWN_ORIGIN,
                "source": source,
                "queue": self.queue_arn,
                "message_id": message["MessageId"],
                "group_id": system.get("MessageGroupId"),
                "message_attributes": _portable_attributes(attributes),
            },
        )

    def _attempts(self, source: str | None, system: Mapping[str, Any]) -> int:
        received = int(system.get("ApproximateReceiveCount") or 1)
        if source is None:
            return received
        try:
            return self._source(source).max_receive or received
        except PortableError:  # the source queue is gone or unreadable: the letter still lists
            return received

    def _sole_source_arn(self) -> str | None:
        """The one queue whose redrive policy targets this queue, if there is exactly one."""
        if self._sole_source is None:
            with self._reaching():
                urls = self._sqs.list_dead_letter_source_queues(
                    QueueUrl=self.queue_url).get("queueUrls", [])
            self._sole_source = (self._arn_of(urls[0]) if len(urls) == 1 else None,)
        return self._sole_source[0]

    def _source(self, arn: str) -> SourceQueue:
        with self._lock:
            known = self._sources.get(arn)
        if known is not None:
            return known
        _, _, account, name = _sqs.arn_parts(arn)
        with self._reaching():
            url = str(self._sqs.get_queue_url(QueueName=name,
                                              QueueOwnerAWSAccountId=account)["QueueUrl"])
            policy = self._sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
        max_receive = json.loads(policy.get("RedrivePolicy") or "{}").get("maxReceiveCount")
        source = SourceQueue(url, int(max_receive) if max_receive else None)
        with self._lock:
            self._sources[arn] = source
        return source

    def _arn_of(self, queue_url: str) -> str:
        with self._reaching():
            attributes = self._sqs.get_queue_attributes(QueueUrl=queue_url,
                                                        AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    def close(self) -> None:
        self._sqs.close()


def _letter_attributes(letter: DeadLetter) -> dict[str, dict[str, str]]:
    """The letter's message attributes; a value SQS would refuse is left out."""
    values = {name: (data_type, read(letter)) for name, (data_type, read)
              in LETTER_ATTRIBUTES.items()}
    values[SENT] = (_sqs.NUMBER, time.time_ns())
    attributes = {}
    for name, (data_type, value) in values.items():
        text = "" if value is None else str(value)[:MAX_VALUE]
        if _sqs.valid_text(text):
            attributes[name] = {"DataType": data_type, "StringValue": text}
    return attributes


def _platform_error(attributes: Mapping[str, Any], source: str | None) -> dict[str, Any]:
    code = attributes.get(LAMBDA_ERROR_CODE, {}).get("StringValue")
    message = attributes.get(LAMBDA_ERROR_MESSAGE, {}).get("StringValue")
    if code or message:  # a Lambda asynchronous invocation's DLQ message
        return {"type": f"aws.lambda.{code or 'Error'}", "message": message or "",
                "traceback": "", "retryable": True}
    where = f"from {source}" if source else "from an unknown queue"
    return {"type": "aws.sqs.redrive", "traceback": "", "retryable": True,
            "message": f"moved here by SQS {where}: received maxReceiveCount times and never "
                       "deleted (the function kept failing or timing out)"}


def _event(message: dict[str, Any], queue_arn: str) -> dict[str, Any] | None:
    """The CloudEvent the Lambda entry would have made of the message, if exactly one."""
    try:
        events = to_cloudevents({"Records": [_sqs.lambda_record(message, queue_arn)]})
    except MalformedEventError:
        return None
    return to_structured(events[0]) if len(events) == 1 else None


def _portable_attributes(attributes: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Message attributes as JSON (binary values base64-encoded), to send them again later."""
    out = {}
    for name, spec in attributes.items():
        value = {"DataType": spec["DataType"]}
        if "StringValue" in spec:
            value["StringValue"] = spec["StringValue"]
        if "BinaryValue" in spec:
            value["BinaryValue"] = base64.b64encode(spec["BinaryValue"]).decode("ascii")
        out[name] = value
    return out


def _native_attributes(attributes: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    return {name: {**spec, "BinaryValue": base64.b64decode(spec["BinaryValue"])}
            if "BinaryValue" in spec else dict(spec) for name, spec in attributes.items()}


def _iso(millis: Any) -> str:
    return rfc3339(int(millis) / 1000 if str(millis or "").isdigit() else time.time())
