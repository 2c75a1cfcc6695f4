"""``portable dev --aws``: S3 uploads in moto reach the Lambda entry the way they do on AWS.

    put_object -> bucket ``uploads`` -> S3 notification (moto sends it) -> SQS ``uploads-events``
    -> the poller (standing in for Lambda's SQS event source mapping) -> Lambda Invoke API
    -> ``aws.lambda_handler(handle)`` in the served process

The poller does what the mapping does: receive up to 10 messages with every attribute, build
the event Lambda hands the function (``_sqs.lambda_record``), invoke the function
synchronously, delete the messages not listed in ``batchItemFailures`` (all of them stay when
the function raises). It invokes through the Lambda Invoke API
(``POST /2015-03-31/functions/portable/invocations``, the path of the Lambda service and of its
Runtime Interface Emulator), served by the handler's functions-framework process: the event
crosses a process boundary as JSON, as it does on Lambda, and the entry answers with the
same ``batchItemFailures`` or function error; ``aws lambda invoke --endpoint-url`` reaches it
too. The handler runs in one place for every source, and a crash of it cannot take the poller
down.

Two shortcuts, for a developer watching: a failed message is visible again after
:data:`RETRY_DELAY` seconds instead of the queue's visibility timeout, and the entry is given
``max_attempts`` = the redrive policy's ``maxReceiveCount`` (5), so the framework writes its
own dead letter on the last receive (PORTABLE_DLQ); the SQS dead-letter queue
``uploads-events-dlq`` catches only what that could not store.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

from portable._app import App, Handler
from portable._dev import require_extra
from portable._dev_router import View, dev_options
from portable._emulators import Process
from portable._net import free_port

from ._sqs import lambda_record
from .entry import lambda_handler

BUCKET = "uploads"
QUEUE = "uploads-events"
DEAD_LETTER_QUEUE = "uploads-events-dlq"
FUNCTION = "portable"
INVOKE_PREFIX = "2015-03-31"
MAX_RECEIVES = 5
VISIBILITY = 30
RETRY_DELAY = 1
TIMEOUT = 60
"""The function's timeout (s): what ``get_remaining_time_in_millis`` counts down from."""
REGION = "us-east-1"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
INSTALL = "pip install 'moto[server]'"

MOTO = """
import sys, threading
from moto import server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

LOCK = threading.Lock()


class SerialDynamoDB(DomainDispatcherApplication):
    def __call__(self, environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with LOCK:
                return super().__call__(environ, start_response)
        return super().__call__(environ, start_response)


server.DomainDispatcherApplication = SerialDynamoDB
server.main(sys.argv[1:])
"""
"""moto_server with DynamoDB requests handled one at a time: moto checks a condition and
writes in two steps, so concurrent conditional writes (the DynamoDB store's claims) could both
succeed; AWS applies each atomically. Every other service stays concurrent."""


def moto_process(port: int) -> Process:
    return Process("moto", [sys.executable, "-c", MOTO, "-H", "127.0.0.1", "-p", str(port)],
                   (port,), install=INSTALL, modules=("moto", "flask", "flask_cors"))


# -- the served side: the Lambda Invoke API in front of the entry ------------------------------

def routes(target: App | Handler, options: dict[str, Any]) -> dict[str, View]:
    function = lambda_handler(target, **dev_options(target, options, MAX_RECEIVES))

    def invoke(request: Any) -> Any:
        try:
            event = json.loads(request.get_data() or b"{}")
        except ValueError as exc:
            return _answer({"errorMessage": f"the payload is not JSON: {exc}",
                            "errorType": "InvalidRequestContentException"}, status=400)
        context = InvokeContext(request.headers.get("X-Amz-Request-Id") or str(uuid.uuid4()),
                                time.monotonic() + TIMEOUT)
        try:
            result = function(event, context)
        except Exception as exc:  # noqa: BLE001 - Lambda reports it as a function error
            return _answer({"errorMessage": str(exc), "errorType": type(exc).__name__},
                           function_error="Unhandled")
        return _answer(result)

    return {INVOKE_PREFIX: invoke}


@dataclass
class InvokeContext:
    """The part of Lambda's context object the entry reads."""

    aws_request_id: str
    deadline: float

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def _answer(body: Any, *, status: int = 200,
            function_error: str | None = None) -> tuple[str, int, dict[str, str]]:
    headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
    if function_error:
        headers["X-Amz-Function-Error"] = function_error
    return json.dumps(body), status, headers


# -- the dev side: moto, the wiring, the event source mapping ---------------------------------

class Source:
    name = "aws"

    def __init__(self) -> None:
        require_extra("aws", "boto3")
        existing, port = os.environ.get("AWS_ENDPOINT_URL"), free_port()
        self.moto = None if existing else moto_process(port)
        self.endpoint = existing or f"http://127.0.0.1:{port}"
        self.defaults = _defaults(started=self.moto is not None)
        self.queue_url = self.queue_arn = ""
        self.sqs: Any = None
        self.invoker: Any = None

    def processes(self) -> list[Process]:
        return [self.moto] if self.moto else []

    def settings(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.endpoint, **self.defaults}

    def wire(self, served: str) -> list[str]:
        s3, self.sqs = _client("s3"), _client("sqs")
        dead = self.sqs.create_queue(QueueName=DEAD_LETTER_QUEUE)["QueueUrl"]
        self.queue_url = self.sqs.create_queue(QueueName=QUEUE, Attributes={
            "VisibilityTimeout": str(VISIBILITY),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": _arn(self.sqs, dead),
                                         "maxReceiveCount": MAX_RECEIVES}),
        })["QueueUrl"]
        self.queue_arn = _arn(self.sqs, self.queue_url)
        _create_bucket(s3, BUCKET)
        s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": self.queue_arn, "Events": [
                "s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]})
        self.invoker = _client("lambda", endpoint_url=served, read_timeout=TIMEOUT + 10)
        return [
            f"aws    s3://{BUCKET} -> SQS {QUEUE} -> SQS event source mapping (stand-in) -> "
            f"Lambda entry at {served}/{INVOKE_PREFIX}/functions/{FUNCTION}/invocations",
            f"aws    a failed message returns after {RETRY_DELAY} s; dead letter on receive "
            f"{MAX_RECEIVES}; SQS redrive backstop: {DEAD_LETTER_QUEUE}",
        ]

    def poll(self) -> None:
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
            MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return
        event = {"Records": [lambda_record(message, self.queue_arn) for message in messages]}
        failed = self._invoke(event, {message["MessageId"] for message in messages})
        for message in messages:
            if message["MessageId"] in failed:
                self.sqs.change_message_visibility(QueueUrl=self.queue_url,
                                                   ReceiptHandle=message["ReceiptHandle"],
                                                   VisibilityTimeout=RETRY_DELAY)
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url,
                                        ReceiptHandle=message["ReceiptHandle"])

    def _invoke(self, event: dict[str, Any], ids: set[str]) -> set[str]:
        """The ids of the messages to receive again."""
        response = self.invoker.invoke(FunctionName=FUNCTION, Payload=json.dumps(event).encode())
        body = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError") or not isinstance(body, dict):
            return ids
        return {str(item.get("itemIdentifier")) for item in body.get("batchItemFailures", [])}

    def close(self) -> None:
        for client in (self.sqs, self.invoker):
            if client is not None:
                client.close()


def _defaults(*, started: bool) -> dict[str, str]:
    """Dummy credentials and a region for moto; for an emulator already running, those the
    environment lacks (a profile counts as credentials)."""
    defaults = {**DUMMY_CREDENTIALS, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}
    if started:
        return defaults
    has = {"credentials": any(os.environ.get(name) for name in ("AWS_ACCESS_KEY_ID",
                                                                 "AWS_PROFILE")),
           "region": any(os.environ.get(name) for name in ("AWS_REGION", "AWS_DEFAULT_REGION"))}
    return {name: value for name, value in defaults.items()
            if not has["credentials" if name in DUMMY_CREDENTIALS else "region"]}


def _client(service: str, *, endpoint_url: str | None = None, read_timeout: int = 10) -> Any:
    import boto3
    from botocore.config import Config

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or REGION
    config = Config(connect_timeout=3, read_timeout=read_timeout,
                    retries={"mode": "standard", "max_attempts": 1 if endpoint_url else 3})
    return boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint_url,
                                          config=config)


def _arn(sqs: Any, queue_url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
               ["Attributes"]["QueueArn"])


def _create_bucket(s3: Any, bucket: str) -> None:
    """Create the bucket unless this account has it (an emulator that was already running)."""
    region = s3.meta.region_name
    location = {} if region == REGION else {
        "CreateBucketConfiguration": {"LocationConstraint": region}}
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket, **location)
