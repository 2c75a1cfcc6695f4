"""A stand-in for Lambda's SQS event source mapping (moto cannot run functions without Docker).

It does what the mapping does: receive up to 10 messages with every attribute, hand the
function the event Lambda would build (adapters.aws._sqs.lambda_record: the record shape of the
fixtures), delete the messages that are not in ``batchItemFailures``, and leave the failed ones
to be received again (made visible at once instead of after the visibility timeout, to keep the
tests fast). A function that raises fails the whole batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from adapters.aws._sqs import lambda_record
from portable import testing

VISIBILITY = 30


@dataclass
class Queue:
    sqs: Any
    url: str

    @property
    def arn(self) -> str:
        return str(self.sqs.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])

    def receive(self, visibility: int = VISIBILITY) -> list[dict[str, Any]]:
        return list(self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=10, VisibilityTimeout=visibility,
            WaitTimeSeconds=0, MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"]).get("Messages", []))

    def lambda_event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        arn = self.arn
        return {"Records": [lambda_record(message, arn) for message in messages]}

    def receive_one(self, timeout: float = 10.0) -> dict[str, Any]:
        """Wait for one message, delete it, and return it as Lambda's SQS event."""
        deadline = time.monotonic() + timeout
        while not (messages := self.receive()):
            assert time.monotonic() < deadline, f"nothing arrived in {self.url}"
            time.sleep(0.02)
        assert len(messages) == 1, messages
        self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=messages[0]["ReceiptHandle"])
        return self.lambda_event(messages)

    def counts(self) -> tuple[int, int]:
        """(visible, in flight) messages."""
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return (int(attributes["ApproximateNumberOfMessages"]),
                int(attributes["ApproximateNumberOfMessagesNotVisible"]))


@dataclass
class EventSourceMapping:
    queue: Queue
    function: Callable[[Any, Any], dict[str, Any]]
    batches: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)

    def poll(self) -> int:
        """One receive and invocation; the number of messages handed to the function."""
        messages = self.queue.receive()
        if not messages:
            return 0
        event = self.queue.lambda_event(messages)
        self.batches.append(event)
        try:
            response = self.function(event, testing.lambda_context(remaining=60))
            failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        except Exception:  # noqa: BLE001 - the mapping retries the whole batch
            response, failed = {"raised": True}, {message["MessageId"] for message in messages}
        self.responses.append(response)
        for message in messages:
            if message["MessageId"] in failed:
                self.queue.sqs.change_message_visibility(
                    QueueUrl=self.queue.url, ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0)
            else:
                self.queue.sqs.delete_message(QueueUrl=self.queue.url,
                                              ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def drain(self, timeout: float = 15.0) -> None:
        """Poll until the queue has nothing visible or in flight."""
        deadline = time.monotonic() + timeout
        while self.poll() or self.queue.counts() != (0, 0):
            assert time.monotonic() < deadline, f"{self.queue.url} did not drain"
            time.sleep(0.02)
