"""End to end on moto: S3 -> SQS (redrive policy, maxReceiveCount 3, to a DLQ) -> the Lambda
entry, driven by a stand-in for the SQS event source mapping (tests.aws.mapping), with the
DynamoDB store and the SQS dead-letter sink. Uploads are processed once, transient failures
succeed on redelivery, poison ends in a dead-letter queue with its error, and nothing is lost.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner
from cloudevents.http import CloudEvent

from adapters import aws
from adapters.aws.dlq import SQSSink
from portable import PermanentError, RetryableError, storage
from portable._cli import main as cli
from tests.aws.emulator import MotoServer
from tests.aws.mapping import EventSourceMapping, Queue

MAX_RECEIVE = 3


@dataclass
class Stack:
    """What the samples' SAM template declares, on moto."""

    s3: Any
    bucket: str
    queue: Queue
    dlq: Queue
    store: str
    letters: str

    def upload(self, *keys: str) -> None:
        for key in keys:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=key.encode())


@pytest.fixture
def stack(moto_server: MotoServer, boto: Any, unique: Any) -> Stack:
    s3, sqs = boto("s3"), boto("sqs")
    dlq = Queue(sqs, sqs.create_queue(QueueName=unique("uploads-dlq"))["QueueUrl"])
    queue = Queue(sqs, sqs.create_queue(QueueName=unique("uploads"), Attributes={
        "VisibilityTimeout": "30",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq.arn,
                                     "maxReceiveCount": MAX_RECEIVE}),
    })["QueueUrl"])
    bucket = unique("uploads")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue.arn, "Events": ["s3:ObjectCreated:*"]}]})
    return Stack(s3, bucket, queue, dlq, store=f"dynamodb://{unique('idempotency')}?create=true",
                 letters=f"sqs://{unique('letters')}?create=true&wait=0")


class Uploads:
    """The handler: counts its runs per key; ``poison/`` keys time out until fixed,
    ``corrupt/`` ones can never succeed, ``flaky/`` ones fail once."""

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()
        self.fixed = False

    def __call__(self, event: CloudEvent) -> dict[str, Any]:
        obj = storage.object_event(event)
        self.runs[obj.key] += 1
        if obj.key.startswith("poison/") and not self.fixed:
            raise RetryableError("the parser timed out on this file")
        if obj.key.startswith("corrupt/"):
            raise PermanentError("not an image")
        if obj.key.startswith("flaky/") and self.runs[obj.key] == 1:
            raise RetryableError("thumbnail service busy")
        return {"key": obj.key, "size": obj.size}


def message_of(mapping: EventSourceMapping, key: str) -> str:
    """The body of the S3 notification message that delivered ``key``."""
    return next(str(record["body"]) for batch in mapping.batches for record in batch["Records"]
                if [event["subject"] for event in aws.to_cloudevents({"Records": [record]})]
                == [key])


def test_uploads_run_once_retry_and_dead_letter_with_the_framework_sink(stack: Stack) -> None:
    handler = Uploads()
    function = aws.lambda_handler(handler, store=stack.store, dlq=stack.letters, retry=1,
                                  max_attempts=MAX_RECEIVE)
    mapping = EventSourceMapping(stack.queue, function)
    stack.upload("good/a.jpg", "flaky/b.jpg", "poison/c.jpg", "corrupt/d.jpg")
    mapping.drain()

    # The same notification delivered again (SQS delivers at least once): acknowledged, not run.
    stack.queue.sqs.send_message(QueueUrl=stack.queue.url,
                                 MessageBody=message_of(mapping, "good/a.jpg"))
    mapping.drain()

    assert handler.runs == {"good/a.jpg": 1, "flaky/b.jpg": 2, "poison/c.jpg": MAX_RECEIVE,
                            "corrupt/d.jpg": 1}
    letters = {letter.event["subject"]: letter for letter in SQSSink.from_url(stack.letters).list()
               if letter.event}
    assert sorted(letters) == ["corrupt/d.jpg", "poison/c.jpg"]
    assert (letters["poison/c.jpg"].error["message"], letters["poison/c.jpg"].attempts) == (
        "the parser timed out on this file", MAX_RECEIVE)
    assert (letters["corrupt/d.jpg"].error["message"], letters["corrupt/d.jpg"].attempts) == (
        "not an image", 1)
    # Nothing lost: every message was acknowledged, none went to SQS's own DLQ.
    assert stack.queue.counts() == (0, 0) and stack.dlq.counts() == (0, 0)


def test_sqs_redrive_dead_letters_and_portable_dlq_replays_to_the_queue(stack: Stack) -> None:
    handler = Uploads()
    # No max_attempts: the framework leaves dead-lettering to the queue's redrive policy.
    function = aws.lambda_handler(handler, store=stack.store, dlq=stack.letters, retry=1)
    mapping = EventSourceMapping(stack.queue, function)
    stack.upload("poison/c.jpg", "good/a.jpg")
    mapping.drain()
    assert handler.runs == {"poison/c.jpg": MAX_RECEIVE, "good/a.jpg": 1}
    assert stack.dlq.counts() == (1, 0)

    dlq_url = f"sqs://{stack.dlq.url.rsplit('/', 1)[1]}?wait=0"
    listed = CliRunner().invoke(cli, ["dlq", "list", "--json", "--dlq", dlq_url])
    assert listed.exit_code == 0, listed.output
    [letter] = [json.loads(line) for line in listed.output.splitlines() if line.startswith("{")]
    assert (letter["origin"]["kind"], letter["origin"]["source"]) == ("sqs-redrive",
                                                                     stack.queue.arn)
    assert letter["event"]["subject"] == "poison/c.jpg"
    assert letter["attempts"] == MAX_RECEIVE

    handler.fixed = True  # the fix is deployed; send the message back where it came from
    replayed = CliRunner().invoke(cli, ["dlq", "replay", "--all", "--dlq", dlq_url])
    assert replayed.exit_code == 0, replayed.output
    mapping.drain()
    assert handler.runs == {"poison/c.jpg": MAX_RECEIVE + 1, "good/a.jpg": 1}
    assert stack.queue.counts() == (0, 0) and stack.dlq.counts() == (0, 0)
    assert SQSSink.from_url(stack.letters).list() == []
