"""Importing portable loads no cloud SDK and no tenacity (cold starts stay short)."""

from __future__ import annotations

import json
import site
import subprocess
import sys
from pathlib import Path

HEAVY = (
    "boto3",
    "botocore",
    "azure.storage",
    "azure.data",
    "azure.core",
    "google.cloud.pubsub_v1",
    "google.cloud.storage",
    "google.cloud.firestore",
    "google.api_core",
    "tenacity",
    "redis",
    "functions_framework",
    "flask",
)


def modules_after(statement: str, keep: str) -> set[str]:
    """The modules in ``sys.modules`` for which ``keep`` (an expression of ``m``) holds after
    ``statement`` runs in a fresh interpreter without ``site``: the packages are found as plain
    folders, as in a deployment package, with no editable-install finder and no namespace
    ``.pth`` file loading modules before any import (functions-framework's makes ``google``
    and ``google.cloud`` stubs at every start of a normal interpreter)."""
    paths = [str(Path(__file__).resolve().parents[2]), *site.getsitepackages()]
    code = (f"import sys, json\nsys.path[:0] = {paths!r}\n{statement}\n"
            f"print(json.dumps(sorted(m for m in sys.modules if {keep})))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         check=True)
    return set(json.loads(out.stdout))


HEAVY_LOADED = f"m.startswith({HEAVY!r})"


def test_import_portable_loads_no_cloud_sdk() -> None:
    assert modules_after("import portable", HEAVY_LOADED) == set()


def test_building_a_pipeline_loads_no_cloud_sdk() -> None:
    statement = (
        "import portable\n"
        "p = portable.Pipeline(lambda e: 1, store='memory://', dlq='memory://')\n"
        "p.process(portable.new_event({'id': '1', 'source': 's', 'type': 't'}))"
    )
    assert modules_after(statement, HEAVY_LOADED) == set()


def test_portable_and_the_entries_load_no_google_azure_or_boto_module() -> None:
    for statement in ("import portable",
                      "from adapters import aws; aws.lambda_handler",
                      "from adapters import gcp; gcp.cloud_function; gcp.push_handler",
                      "from adapters import azure; azure.register"):
        cloud = "m.split('.')[0] in ('google', 'azure', 'boto3', 'botocore')"
        assert modules_after(statement, cloud) == set(), statement


def test_the_lambda_path_loads_none_of_the_costly_modules_it_can_do_without() -> None:
    """Each costs a cold start milliseconds (``dataclasses`` pulls in ``inspect``, ~10 ms;
    ``urllib.parse`` pulls in ``ipaddress``, ~3 ms): the path of an SQS message to a handler
    does without them until a retry, a dead letter or an encoded S3 key needs one. (Without
    OpenTelemetry, as in a deployment that does not trace: its API itself imports inspect.)"""
    costly = ("dataclasses", "inspect", "random", "urllib.parse", "ipaddress")
    statement = (
        "sys.modules['opentelemetry'] = None  # not installed\n"
        "from adapters import aws\n"
        "handler = aws.lambda_handler(lambda e: None, store='memory://', dlq='memory://')\n"
        "handler({'Records': [{'messageId': 'm-1', 'body': 'hello', 'eventSource': 'aws:sqs',"
        " 'attributes': {'ApproximateReceiveCount': '1'}, 'messageAttributes': {},"
        " 'eventSourceARN': 'arn:aws:sqs:eu-west-1:123456789012:q'}]}, None)"
    )
    assert modules_after(statement, f"m in {costly!r}") == set()
