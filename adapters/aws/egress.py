"""CloudEvents out: SQS messages, SNS messages and EventBridge entries (pure), and ``publish``.

**SQS and SNS.** Binary mode, the form the HTTP and Pub/Sub bindings use, while the event fits
it: each attribute as a ``ce-<name>`` String message attribute, ``datacontenttype`` as
``content-type``, the data as the message body. An event fits when

- every attribute is a string (binary mode would turn an integer or boolean extension into
  text);
- its data is text or JSON that reads back the same under its content type (bytes cannot be
  a body, and SQS and SNS refuse an empty one, so an event without data does not fit);
- the message keeps AWS's rules: at most 10 attributes, valid characters, 256 KiB (see _sqs).

Any other event goes in structured mode: the CloudEvent's JSON as the body, with a
``content-type`` attribute of ``application/cloudevents+json``. Either way
:func:`adapters.aws.to_cloudevents` rebuilds the same CloudEvent from what Lambda receives: the
SQS record, the SNS record, or an SNS -> SQS message with or without raw delivery (the round
trip law, tested with generated events against moto).

**EventBridge.** A PutEvents entry with ``Source`` = the event's source, ``DetailType`` = its
type (the fields rules match on), ``Detail`` = the structured CloudEvent and ``Time`` = its
time. PutEvents cannot set the EventBridge event id; the ingress takes the CloudEvent, id and
all, from ``Detail``. EventBridge reserves sources starting with ``aws.`` and limits sources to
256 and detail types to 128 characters: an event outside those limits raises PermanentError.

**FIFO** (``group=``): ``MessageGroupId`` = group, and ``MessageDeduplicationId`` = a hash of
the event's source and id, so that the queue drops a re-sent event within its five-minute
deduplication window.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from cloudevents.http import CloudEvent

from portable import _tracing
from portable._classify import AWS_TRANSIENT_CODES
from portable._emit import with_id
from portable._errors import MalformedEventError, PermanentError, RetryableError
from portable._events import content_id, from_binary, to_binary, to_structured

from . import _sqs
from ._clients import client
from ._errors import mapped

Target = Literal["sqs", "sns", "eventbridge"]
STRUCTURED = "application/cloudevents+json"
CONTENT_TYPE = "content-type"
FIFO_SUFFIX = ".fifo"
RESERVED_SOURCE_PREFIX = "aws."
MAX_SOURCE = 256
MAX_DETAIL_TYPE = 128
AWS_TRACE_HEADER = "AWSTraceHeader"


def from_cloudevent(event: CloudEvent, target: Target = "sqs", *,
                    group: str | None = None) -> dict[str, Any]:
    """The native message for ``event``: SendMessage keyword arguments (``target="sqs"``),
    Publish keyword arguments (``"sns"``) or a PutEvents entry (``"eventbridge"``), without
    the destination (QueueUrl, TopicArn, EventBusName). ``group``: the FIFO message group."""
    if target not in BUILDERS:
        raise ValueError(f"unknown target {target!r}; expected one of {', '.join(BUILDERS)}")
    return BUILDERS[target](event, group)


def message_parts(event: CloudEvent) -> tuple[str, dict[str, dict[str, str]]]:
    """(body, message attributes) of an SQS or SNS message carrying ``event``."""
    binary = _binary(event)
    if binary is not None:
        return binary
    return (_sqs.json_text(to_structured(event)),
            _sqs.string_attributes({CONTENT_TYPE: STRUCTURED}))


def _binary(event: CloudEvent) -> tuple[str, dict[str, dict[str, str]]] | None:
    """Binary mode's (body, attributes), or None when the event does not fit it."""
    if not all(isinstance(value, str) for value in event.get_attributes().values()):
        return None
    headers, data = to_binary(event)
    try:
        body = (data or b"").decode("utf-8")
        same = from_binary(headers, body, headers.get(CONTENT_TYPE)) == event
    except (UnicodeDecodeError, MalformedEventError):
        return None
    attributes = _sqs.string_attributes(headers)
    return (body, attributes) if same and _sqs.fits(body, attributes) else None


def _sqs_message(event: CloudEvent, group: str | None) -> dict[str, Any]:
    body, attributes = message_parts(event)
    return {"MessageBody": body, "MessageAttributes": attributes, **_fifo(event, group)}


def _sns_message(event: CloudEvent, group: str | None) -> dict[str, Any]:
    body, attributes = message_parts(event)
    return {"Message": body, "MessageAttributes": attributes, **_fifo(event, group)}


def _eventbridge_entry(event: CloudEvent, group: str | None) -> dict[str, Any]:
    source, detail_type = event["source"], event["type"]
    problems = {
        f"its source starts with {RESERVED_SOURCE_PREFIX!r}, which EventBridge reserves":
            source.lower().startswith(RESERVED_SOURCE_PREFIX),
        f"its source is longer than {MAX_SOURCE} characters": len(source) > MAX_SOURCE,
        f"its type is longer than {MAX_DETAIL_TYPE} characters":
            len(detail_type) > MAX_DETAIL_TYPE,
    }
    for problem, found in problems.items():
        if found:
            raise PermanentError(f"CloudEvent {event['id']!r} cannot go to EventBridge: "
                                 f"{problem}")
    entry: dict[str, Any] = {"Source": source, "DetailType": detail_type,
                             "Detail": _sqs.json_text(to_structured(event))}
    time = _parse_time(event.get("time"))
    if time is not None:
        entry["Time"] = time
    return entry


BUILDERS: dict[str, Callable[[CloudEvent, str | None], dict[str, Any]]] = {
    "sqs": _sqs_message,
    "sns": _sns_message,
    "eventbridge": _eventbridge_entry,
}


def _fifo(event: CloudEvent, group: str | None) -> dict[str, str]:
    if group is None:
        return {}
    return {"MessageGroupId": group,
            "MessageDeduplicationId": content_id(event["source"], event["id"])}


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


# -- publish ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Destination:
    """Where ``publish`` sends: a queue URL or ARN, a topic ARN or an event bus ARN."""

    target: Target
    address: str
    region: str | None
    fifo: bool

    @classmethod
    def parse(cls, destination: str) -> Destination:
        if destination.startswith(("https://", "http://")):
            return cls("sqs", destination, _sqs.region_of(destination),
                       destination.endswith(FIFO_SUFFIX))
        try:
            service, region, _, resource = _sqs.arn_parts(destination)
        except ValueError:
            service, region, resource = "", "", ""
        if service not in ARN_TARGETS:
            raise ValueError(f"cannot publish to {destination!r}: expected an SQS queue URL or "
                             "the ARN of an SQS queue, an SNS topic or an EventBridge event bus")
        return cls(ARN_TARGETS[service], destination, region or None,
                   resource.endswith(FIFO_SUFFIX))


ARN_TARGETS: dict[str, Target] = {"sqs": "sqs", "sns": "sns", "events": "eventbridge"}
XRAY_FIELDS: dict[Target, Callable[[str], dict[str, Any]]] = {
    "sqs": lambda header: {"MessageSystemAttributes": {AWS_TRACE_HEADER: {
        "DataType": _sqs.STRING, "StringValue": header}}},
    "eventbridge": lambda header: {"TraceHeader": header},
}
"""Where X-Ray reads an event's trace, by target: SQS's AWSTraceHeader system attribute, a
PutEvents entry's TraceHeader. (SNS takes it from the HTTP request's X-Ray header only; the
event's ``ce-traceparent`` attribute carries the trace through SNS.)"""


def publish(event: CloudEvent, destination: str, *, group: str | None = None) -> str:
    """Send ``event`` with boto3; returns the message id (SQS, SNS) or event id (EventBridge).

    ``destination``: an SQS queue URL or ARN, an SNS topic ARN, an EventBridge event bus ARN.
    To a FIFO queue or topic, ``group`` defaults to a hash of the event's source (one ordered
    stream per source). Endpoint, region and credentials: the usual AWS settings
    (``AWS_ENDPOINT_URL``, ``AWS_REGION``...). Errors: ConfigurationError (missing queue,
    denied access), RetryableError (throttling, outage), PermanentError (refused message).
    """
    where = Destination.parse(destination)
    if where.fifo and group is None:
        group = content_id(event["source"])
    event = _tracing.stamped(with_id(event))
    message = from_cloudevent(event, where.target, group=group)
    trace = _tracing.of_event(event)
    if trace is not None and where.target in XRAY_FIELDS:
        message.update(XRAY_FIELDS[where.target](_tracing.to_xray(trace)))
    with mapped(RetryableError, f"publishing to {destination}"):
        return SENDERS[where.target](where, message)


@functools.cache
def _client(service: str, region: str | None) -> Any:
    return client(service, RetryableError, region)


@functools.lru_cache(maxsize=256)
def _queue_url(arn: str) -> str:
    _, region, account, name = _sqs.arn_parts(arn)
    response = _client("sqs", region).get_queue_url(QueueName=name,
                                                    QueueOwnerAWSAccountId=account)
    return str(response["QueueUrl"])


def _send_sqs(where: Destination, message: dict[str, Any]) -> str:
    url = where.address if "://" in where.address else _queue_url(where.address)
    return str(_client("sqs", where.region).send_message(QueueUrl=url, **message)["MessageId"])


def _send_sns(where: Destination, message: dict[str, Any]) -> str:
    return str(_client("sns", where.region).publish(TopicArn=where.address,
                                                    **message)["MessageId"])


def _send_eventbridge(where: Destination, entry: dict[str, Any]) -> str:
    response = _client("events", where.region).put_events(
        Entries=[{**entry, "EventBusName": where.address}])
    [result] = response["Entries"]
    code = result.get("ErrorCode")
    if code:
        error = RetryableError if code in AWS_TRANSIENT_CODES else PermanentError
        raise error(f"EventBridge refused the event: {code}: {result.get('ErrorMessage')}")
    return str(result["EventId"])


SENDERS: dict[Target, Callable[[Destination, dict[str, Any]], str]] = {
    "sqs": _send_sqs,
    "sns": _send_sns,
    "eventbridge": _send_eventbridge,
}
