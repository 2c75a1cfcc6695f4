"""AWS payloads -> CloudEvents (pure: no SDK, no I/O).

The delivery is detected from its shape; the user never names it. What Lambda may be given:

- S3 notification records (direct, or in an SQS body, an SNS message, SNS -> SQS raw or not):
  the CNCF AWS S3 adapter mapping (see ``_s3``); ``s3:TestEvent`` yields no event at all;
- EventBridge events: S3 ones typed as the notification would be; one whose ``detail`` is a
  structured CloudEvent (our egress) is that CloudEvent; any other: ``id`` = event id,
  ``source``, ``type`` = ``detail-type``, ``subject`` = first resource, ``data`` = ``detail``;
- SQS and SNS messages that carry a CloudEvent, structured (JSON body) or binary (``ce-*``
  message attributes, ``content-type`` for ``datacontenttype``): that CloudEvent;
- any other SNS message: the CNCF AWS SNS adapter mapping (``id`` = MessageId, ``source`` = the
  subscription ARN, else the topic ARN; ``type`` = ``com.amazonaws.sns.Notification``,
  ``subject`` = Subject, ``data`` = the SNS message JSON);
- any other SQS message (CNCF has no SQS adapter; this mirrors the SNS one): ``id`` =
  messageId, ``source`` = the queue ARN, ``type`` = ``com.amazonaws.sqs.message``, ``time`` =
  SentTimestamp, ``data`` = the message as sent (the record without ``receiptHandle`` and the
  per-receive attributes, so a redelivery carries the same data);
- a Lambda destination invocation record (on-failure or on-success): one CloudEvent about the
  invocation, typed as EventBridge destinations type it (``Lambda Function Invocation Result -
  Failure``), ``id`` = the failed request id, ``source`` = the function ARN, ``subject`` = the
  condition (``RetriesExhausted``...), ``data`` = the record. Its ``requestPayload`` is not
  re-run: the original events were already retried and dead-lettered or dropped; replaying them
  is ``portable dlq replay``'s deliberate job, not a side effect of reading a failure report.

Anything else raises MalformedEventError naming what was expected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from cloudevents.http import CloudEvent

from portable._errors import MalformedEventError
from portable._events import (
    from_binary,
    from_structured,
    has_binary_attributes,
    is_structured,
    new_event,
    reading,
)

from . import _s3
from ._fields import event_time, parse_json, require, text

JSON = "application/json"
SQS_TYPE = "com.amazonaws.sqs.message"
SNS_TYPE_PREFIX = "com.amazonaws.sns."
SQS_SOURCE = "aws:sqs"
SNS_SOURCE = "aws:sns"
FIFO_SUFFIX = ".fifo"
# Fields of an SQS record that change with every receive of the same message.
SQS_PER_RECEIVE = ("receiptHandle",)
SQS_PER_RECEIVE_ATTRIBUTES = ("ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp")
DESTINATION_TYPES = {"Success": "Lambda Function Invocation Result - Success"}
DESTINATION_FAILURE_TYPE = "Lambda Function Invocation Result - Failure"


class Item(NamedTuple):
    """What the platform acknowledges or redelivers as one: an SQS message, or a whole
    asynchronous invocation. ``error`` is set (and ``events`` empty) when it is malformed."""

    raw: Any
    events: list[CloudEvent]
    message_id: str | None = None
    attempt: int | None = None
    ordered: bool = False
    error: MalformedEventError | None = None


PAYLOAD = "AWS payload"


def to_cloudevents(payload: Any) -> list[CloudEvent]:
    """Every CloudEvent of one Lambda payload, in delivery order (none for ``s3:TestEvent``).

    Raises MalformedEventError for a payload, or an SQS record of it, that no rule recognises.
    """
    if not is_sqs_batch(payload):  # one item: no Item to build and take apart
        with reading(PAYLOAD):
            return _payload_events(payload)
    events: list[CloudEvent] = []
    for item in items(payload):
        if item.error is not None:
            raise item.error
        events.extend(item.events)
    return events


def items(payload: Any) -> list[Item]:
    """The payload split into what the platform acks as one, each with its CloudEvents.

    An SQS batch gives one Item per message (a bad message is an Item with ``error``: it must
    not fail the others); any other payload gives one Item. Never raises.
    """
    if is_sqs_batch(payload):
        return [_sqs_item(record) for record in payload["Records"]]
    events, error = _guarded(_payload_events, payload, PAYLOAD)
    return [Item(payload, events, error=error)]


def is_sqs_batch(payload: Any) -> bool:
    """A batch from an SQS event source mapping (answered with ``batchItemFailures``)."""
    records = payload.get("Records") if isinstance(payload, dict) else None
    if not isinstance(records, list):
        return False
    for record in records:  # a loop, not any(): asked of every payload
        if isinstance(record, dict) and record.get("eventSource") == SQS_SOURCE:
            return True
    return False


# -- the forms a message can take, tried in order -------------------------------------------

Form = tuple[Callable[[Any], bool], Callable[[Any], list[CloudEvent]]]


def _is_s3_test_event(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("Event") == "s3:TestEvent"


def _is_eventbridge(obj: Any) -> bool:
    return isinstance(obj, dict) and {"detail-type", "source", "detail"} <= obj.keys()


def _is_destination_record(obj: Any) -> bool:
    context = obj.get("requestContext") if isinstance(obj, dict) else None
    return (isinstance(context, dict) and "condition" in context and "functionArn" in context
            and "requestPayload" in obj)


def _is_sns_envelope(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("Type") == "Notification" and {
        "MessageId", "TopicArn", "Message"} <= obj.keys()


def _is_sns_records(obj: Any) -> bool:
    records = obj.get("Records") if isinstance(obj, dict) else None
    return bool(records) and isinstance(records, list) and all(
        isinstance(record, dict) and record.get("EventSource") == SNS_SOURCE for record in records)


def _skip(_: Any) -> list[CloudEvent]:
    return []


def _structured(obj: Any) -> list[CloudEvent]:
    return [from_structured(obj)]


def _from_eventbridge(event: dict[str, Any]) -> list[CloudEvent]:
    detail = event["detail"]
    if is_structured(detail):
        return [from_structured(detail)]
    if _s3.is_eventbridge(event):
        return [_s3.from_eventbridge(event)]
    what = "EventBridge event"
    resources: list[Any] = event.get("resources") or [None]
    return [new_event({
        "id": text(event, "id", what=what),
        "source": text(event, "source", what=what),
        "type": text(event, "detail-type", what=what),
        "subject": resources[0],
        "time": event_time(event.get("time")),
        "datacontenttype": JSON,
    }, detail)]


def _from_destination_record(record: dict[str, Any]) -> list[CloudEvent]:
    what = "Lambda destination record"
    condition = text(record, "requestContext", "condition", what=what)
    return [new_event({
        "id": text(record, "requestContext", "requestId", what=what),
        "source": text(record, "requestContext", "functionArn", what=what),
        "type": DESTINATION_TYPES.get(condition, DESTINATION_FAILURE_TYPE),
        "subject": condition,
        "time": event_time(record.get("timestamp")),
        "datacontenttype": JSON,
    }, record)]


def _from_sns_envelope(envelope: dict[str, Any]) -> list[CloudEvent]:
    return _from_sns(envelope, None)


def _from_sns_records(payload: dict[str, Any]) -> list[CloudEvent]:
    events: list[CloudEvent] = []
    for record in payload["Records"]:
        envelope = require(record, "Sns", what="SNS record")
        events.extend(_from_sns(envelope, record.get("EventSubscriptionArn")))
    return events


MESSAGE_FORMS: tuple[Form, ...] = (
    (is_structured, _structured),
    (_is_s3_test_event, _skip),
    (_s3.is_notification, _s3.from_notification),
    (_is_eventbridge, _from_eventbridge),
    (_is_destination_record, _from_destination_record),
)
"""What an SNS message (or an SQS body, or a Lambda payload) may hold besides plain data."""
SQS_BODY_FORMS: tuple[Form, ...] = MESSAGE_FORMS + ((_is_sns_envelope, _from_sns_envelope),)
PAYLOAD_FORMS: tuple[Form, ...] = MESSAGE_FORMS + ((_is_sns_records, _from_sns_records),)


def _first_form(obj: Any, forms: tuple[Form, ...]) -> list[CloudEvent] | None:
    for matches, convert in forms:
        if matches(obj):
            return convert(obj)
    return None


# -- SQS and SNS messages -------------------------------------------------------------------

def _sqs_item(record: Any) -> Item:
    fields = record if isinstance(record, dict) else {}
    message_id = fields.get("messageId") if isinstance(fields.get("messageId"), str) else None
    events, error = _guarded(_from_sqs_record, record, f"SQS message {message_id!r}")
    return Item(record, events, message_id or None, _receive_count(fields),
                str(fields.get("eventSourceARN", "")).endswith(FIFO_SUFFIX), error)


def _from_sqs_record(record: Any) -> list[CloudEvent]:
    what = "SQS record"
    message_id = text(record, "messageId", what=what)
    if record.get("eventSource") != SQS_SOURCE:
        raise MalformedEventError(f"record {message_id!r} of an SQS batch is not from aws:sqs")
    body = record.get("body")
    if not isinstance(body, str):
        raise MalformedEventError(f"SQS message {message_id!r} has no text body")
    attributes = _attribute_strings(record.get("messageAttributes"), "stringValue")
    if has_binary_attributes(attributes):
        return [_binary(attributes, body)]
    events = _first_form(parse_json(body), SQS_BODY_FORMS)
    return [_plain_sqs(record, message_id)] if events is None else events


def _plain_sqs(record: dict[str, Any], message_id: str) -> CloudEvent:
    attributes = record.get("attributes") or {}
    sent = {k: v for k, v in record.items() if k not in SQS_PER_RECEIVE}
    sent["attributes"] = {k: v for k, v in attributes.items()
                          if k not in SQS_PER_RECEIVE_ATTRIBUTES}
    return new_event({
        "id": message_id,
        "source": text(record, "eventSourceARN", what=f"SQS message {message_id!r}"),
        "type": SQS_TYPE,
        "time": event_time(attributes.get("SentTimestamp"), millis=True),
        "datacontenttype": JSON,
    }, sent)


def _from_sns(envelope: dict[str, Any], subscription_arn: str | None) -> list[CloudEvent]:
    what = "SNS message"
    message_id = text(envelope, "MessageId", what=what)
    message = envelope.get("Message")
    attributes = _attribute_strings(envelope.get("MessageAttributes"), "Value")
    if has_binary_attributes(attributes):
        return [_binary(attributes, message)]
    events = _first_form(parse_json(message), MESSAGE_FORMS)
    if events is not None:
        return events
    return [new_event({
        "id": message_id,
        "source": subscription_arn or _subscription_arn(envelope)
        or text(envelope, "TopicArn", what=what),
        "type": SNS_TYPE_PREFIX + text(envelope, "Type", what=what),
        "subject": envelope.get("Subject"),
        "time": event_time(envelope.get("Timestamp")),
        "datacontenttype": JSON,
    }, envelope)]


def _subscription_arn(envelope: Mapping[str, Any]) -> str | None:
    """SNS -> SQS envelopes name their subscription only in the unsubscribe URL."""
    url = envelope.get("UnsubscribeURL") or envelope.get("UnsubscribeUrl")
    if not isinstance(url, str):
        return None
    from urllib.parse import parse_qs, urlsplit  # with ipaddress, 3 ms of a cold start

    arns = parse_qs(urlsplit(url).query).get("SubscriptionArn")
    return arns[0] if arns else None


def _attribute_strings(attributes: Any, value_key: str) -> dict[str, str]:
    """Message attributes -> {name: text} (SQS: ``stringValue``; SNS: ``Value``); binary
    attributes cannot carry CloudEvent attributes and are left out."""
    if not isinstance(attributes, dict):
        return {}
    return {name: spec[value_key] for name, spec in attributes.items()
            if isinstance(spec, dict) and isinstance(spec.get(value_key), str)}


def _binary(attributes: dict[str, str], data: Any) -> CloudEvent:
    content_type = next((v for k, v in attributes.items() if k.lower() == "content-type"), None)
    return from_binary(attributes, data if isinstance(data, str) else None, content_type)


def _receive_count(record: Mapping[str, Any]) -> int | None:
    attributes = record.get("attributes")
    count = attributes.get("ApproximateReceiveCount") if isinstance(attributes, dict) else None
    return int(count) if isinstance(count, str) and count.isdigit() else None


# -- whole payloads ---------------------------------------------------------------------------

def _payload_events(payload: Any) -> list[CloudEvent]:
    events = _first_form(payload, PAYLOAD_FORMS)
    if events is None:
        raise MalformedEventError(_unrecognised(payload))
    return events


def _unrecognised(payload: Any) -> str:
    expected = ("expected an S3, SQS, SNS or EventBridge delivery, an S3 test event, a Lambda "
                "destination record or a CloudEvent")
    if not isinstance(payload, dict):
        return f"not recognised (a JSON {type(payload).__name__}): {expected}"
    records = payload.get("Records")
    if isinstance(records, list) and records:
        sources = sorted({str(r.get("eventSource") or r.get("EventSource")) for r in records
                          if isinstance(r, dict)})
        return f"unsupported records from {', '.join(sources) or 'no eventSource'}: {expected}"
    return f"not recognised (keys {sorted(payload)[:10]}): {expected}"


def _guarded(convert: Callable[[Any], list[CloudEvent]], obj: Any,
             what: str) -> tuple[list[CloudEvent], MalformedEventError | None]:
    """Run a conversion; any failure becomes the MalformedEventError of this one item, so it
    cannot fail the rest of a batch."""
    try:
        with reading(what):
            return convert(obj), None
    except MalformedEventError as exc:
        return [], exc
