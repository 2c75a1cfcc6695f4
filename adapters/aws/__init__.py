"""The AWS adapter: Lambda payloads (S3, SQS, SNS, EventBridge) to CloudEvents and back, and
the Lambda entry. Importing it loads no AWS SDK: boto3 is imported only when ``publish``, the
DynamoDB store (``dynamodb://``) or the SQS sink (``sqs://``) first needs a client.

>>> from adapters import aws
>>> lambda_handler = aws.lambda_handler(handle)
>>> endpoint = aws.sns_http_handler(handle, topic_arns=[TOPIC_ARN])  # SNS HTTP(S) subscription
>>> aws.publish(event, "https://sqs.eu-west-1.amazonaws.com/123456789012/orders")
"""

import typing as _typing

from portable._lazy import lazy_exports as _lazy_exports

if _typing.TYPE_CHECKING:
    from ._sns_http import sns_http_handler
    from .egress import from_cloudevent, publish
    from .entry import lambda_handler
    from .ingress import to_cloudevents

# Loaded on first use: an entry imports only the modules it needs at cold start.
__getattr__, __dir__ = _lazy_exports(
    __name__,
    {
        "from_cloudevent": ".egress",
        "lambda_handler": ".entry",
        "publish": ".egress",
        "sns_http_handler": "._sns_http",
        "to_cloudevents": ".ingress",
    },
    globals(),
)

__all__ = ["from_cloudevent", "lambda_handler", "publish", "sns_http_handler", "to_cloudevents"]
