"""The Lambda entry of the order flow: the handler of samples/orders, unchanged.

The function's handler setting is ``samples.orders.aws.app.lambda_handler``. The pipeline (the
DynamoDB store and SQS dead-letter queue named by PORTABLE_STORE and PORTABLE_DLQ) is built
once per execution environment, at import; accepted orders go where ORDERS_PUBLISH_TO says.
"""

from adapters import aws
from samples.orders import app

lambda_handler = aws.lambda_handler(app)
