"""The AWS adapter: Lambda payloads (S3, SQS, SNS, EventBridge) to CloudEvents, and the Lambda
entry. Importing it loads no AWS SDK: boto3 is imported only by the stores and sinks that need it.

>>> from adapters import aws
>>> lambda_handler = aws.lambda_handler(handle)
"""

from .entry import lambda_handler
from .ingress import to_cloudevents

__all__ = ["lambda_handler", "to_cloudevents"]
