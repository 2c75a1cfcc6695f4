"""The Lambda entry of the hello sample: the handler of samples/hello, unchanged.

The function's handler setting is ``samples.hello.aws.app.lambda_handler``; the pipeline (the
DynamoDB store and SQS dead-letter queue named by PORTABLE_STORE and PORTABLE_DLQ) is built
once per execution environment, at import.
"""

from adapters import aws
from samples.hello import app

lambda_handler = aws.lambda_handler(app)
