"""The Lambda entry of the upload pipeline: the handler of samples/upload, unchanged.

The function's handler setting is ``samples.upload.aws.app.lambda_handler``. The pipeline (the
DynamoDB store and SQS dead-letter queue named by PORTABLE_STORE and PORTABLE_DLQ) is built
once per execution environment, at import; objects are read and manifests written with the
function's role (template.yaml grants both on the uploads bucket only).
"""

from adapters import aws
from samples.upload import app

lambda_handler = aws.lambda_handler(app)
