"""SQS and SNS message rules and shapes, shared by egress, the SQS sink and tests (pure).

The rules are AWS's, which moto does not enforce:

- a message (SQS ``MessageBody``, SNS ``Message``) and every String attribute value must be
  non-empty text of the XML character set: tab, line feed, carriage return, U+0020 to U+D7FF,
  U+E000 to U+FFFD, U+10000 to U+10FFFF;
- at most 10 message attributes; names of 1 to 256 letters, digits, ``_``, ``-`` and ``.``,
  neither starting nor ending with ``.``, without ``..``, not starting with ``AWS.`` or
  ``Amazon.`` in any case;
- the body plus every attribute's name, data type and value count towards the message size:
  256 KiB on SNS and classic SQS queues (SQS queues may now allow up to 1 MiB).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import Any

MAX_ATTRIBUTES = 10
MAX_MESSAGE_BYTES = 262_144
STRING = "String"
NUMBER = "Number"
# The complement of that character set, spelled out: the negated form ``[^\t\n\r\x20-...]``
# matches the same characters but takes ~4 ms to compile, paid by every cold start.
_INVALID_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NAME = re.compile(r"^(?!\.)(?!.*\.\.)(?!(?i:aws|amazon)\.)[A-Za-z0-9_.-]{1,256}(?<!\.)$")
_SQS_HOST = re.compile(r"^sqs\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")


def valid_text(value: str) -> bool:
    """Non-empty text that SQS and SNS accept as a body or a String attribute value."""
    return bool(value) and _INVALID_TEXT.search(value) is None


def valid_name(name: str) -> bool:
    return _NAME.match(name) is not None


def string_attributes(values: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """``{name: text}`` as SendMessage / Publish ``MessageAttributes``."""
    return {name: {"DataType": STRING, "StringValue": value} for name, value in values.items()}


def message_bytes(body: str, attributes: Mapping[str, Mapping[str, str]]) -> int:
    """The size AWS counts: the body and each attribute's name, data type and value."""
    size = len(body.encode("utf-8"))
    for name, spec in attributes.items():
        size += len(name.encode("utf-8")) + len(spec["DataType"].encode("utf-8"))
        size += len(spec.get("StringValue", "").encode("utf-8"))
    return size


def fits(body: str, attributes: Mapping[str, Mapping[str, str]]) -> bool:
    """Whether a message with String attributes is valid as it stands (see module docstring)."""
    return (valid_text(body) and len(attributes) <= MAX_ATTRIBUTES
            and all(valid_name(name) and valid_text(spec["StringValue"])
                    for name, spec in attributes.items())
            and message_bytes(body, attributes) <= MAX_MESSAGE_BYTES)


def json_text(obj: Any) -> str:
    """Compact JSON that is valid message text: non-ASCII kept as is unless it holds
    characters SQS refuses (U+FFFE, U+FFFF), which are escaped then."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return text if valid_text(text) else json.dumps(obj, separators=(",", ":"))


def region_of(queue_url: str) -> str | None:
    """The region in an AWS queue URL (``https://sqs.eu-west-1.amazonaws.com/...``)."""
    host = queue_url.split("://", 1)[-1].split("/", 1)[0]
    found = _SQS_HOST.match(host)
    return found.group(1) if found else None


def arn_parts(arn: str) -> tuple[str, str, str, str]:
    """``arn:aws:<service>:<region>:<account>:<resource>`` -> (service, region, account,
    resource)."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise ValueError(f"not an ARN: {arn!r}")
    return parts[2], parts[3], parts[4], parts[5]


def lambda_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """A message as ReceiveMessage returns it -> the record Lambda's SQS event source mapping
    hands the function (camel-case keys, attribute values as ``stringValue``/``binaryValue``
    with ``dataType``, the queue's ARN and region)."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message.get("ReceiptHandle"),
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {name: _lambda_attribute(spec) for name, spec in
                              (message.get("MessageAttributes") or {}).items()},
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": arn_parts(queue_arn)[1],
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _lambda_attribute(spec: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"stringListValues": [], "binaryListValues": [],
                           "dataType": spec["DataType"]}
    if "StringValue" in spec:
        out["stringValue"] = spec["StringValue"]
    if "BinaryValue" in spec:
        out["binaryValue"] = base64.b64encode(spec["BinaryValue"]).decode("ascii")
    return out
