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


def loaded_after(statement: str) -> list[str]:
    code = (
        f"import sys, json\n{statement}\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({HEAVY!r}))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(json.loads(out.stdout))


def test_import_portable_loads_no_cloud_sdk() -> None:
    assert loaded_after("import portable") == []


def test_building_a_pipeline_loads_no_cloud_sdk() -> None:
    statement = (
        "import portable\n"
        "p = portable.Pipeline(lambda e: 1, store='memory://', dlq='memory://')\n"
        "p.process(portable.new_event({'id': '1', 'source': 's', 'type': 't'}))"
    )
    assert loaded_after(statement) == []


def cloud_modules_after(statement: str) -> set[str]:
    code = (f"import sys, json\n{statement}\n"
            "print(json.dumps(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('google', 'azure', 'boto3', 'botocore'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


def test_entries_load_no_google_or_azure_module_a_bare_interpreter_lacks() -> None:
    """A bare interpreter already holds ``google`` and ``google.cloud``: the installed
    google-cloud-* distributions declare those namespace packages in .pth files that site
    runs at start-up. Importing portable and the entries must add nothing to that."""
    baseline = cloud_modules_after("pass")
    for statement in ("import portable",
                      "from adapters import aws; aws.lambda_handler",
                      "from adapters import gcp; gcp.cloud_function; gcp.push_handler",
                      "from adapters import azure; azure.register"):
        added = cloud_modules_after(statement) - baseline
        # azure.functions is the programming model the Functions host has already loaded
        assert {m for m in added if not m.startswith("azure.functions")} == set(), statement


def test_the_lambda_path_loads_none_of_the_costly_modules_it_can_do_without() -> None:
    """Each costs a cold start milliseconds (``dataclasses`` pulls in ``inspect``, ~10 ms;
    ``urllib.parse`` pulls in ``ipaddress``, ~3 ms): the path of an SQS message to a handler
    does without them until a retry, a dead letter or an encoded S3 key needs one. (Without
    OpenTelemetry, as in a deployment that does not trace: its API itself imports inspect.)"""
    costly = ("dataclasses", "inspect", "random", "urllib.parse", "ipaddress")
    report = f"print(json.dumps(sorted(m for m in {costly!r} if m in sys.modules)))"
    # -S: no site, so no editable-install finder; the packages are found as plain folders.
    paths = [str(Path(__file__).resolve().parents[2]), *site.getsitepackages()]
    start = f"import sys, json\nsys.path[:0] = {paths!r}\n"
    code = (
        f"{start}"
        "sys.modules['opentelemetry'] = None  # not installed\n"
        "from adapters import aws\n"
        "handler = aws.lambda_handler(lambda e: None, store='memory://', dlq='memory://')\n"
        "handler({'Records': [{'messageId': 'm-1', 'body': 'hello', 'eventSource': 'aws:sqs',"
        " 'attributes': {'ApproximateReceiveCount': '1'}, 'messageAttributes': {},"
        " 'eventSourceARN': 'arn:aws:sqs:eu-west-1:123456789012:q'}]}, None)\n"
        f"{report}"
    )
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == []
