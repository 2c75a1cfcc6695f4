"""Each sample's deployment files agree with the code they deploy: the entries they name
exist and serve the sample, the store and sink URLs they set parse and name the resources they
declare, and the platform's retry limit (SQS maxReceiveCount, host.json maxDequeueCount, the
Pub/Sub dead-letter policy) is the one the entry counts. (No emulator runs CloudFormation, the
Functions host or gcloud: test_gcp_deploy.py runs each deploy.sh against a fake gcloud.)"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.aws.dlq import QueueSpec
from adapters.aws.egress import Destination
from adapters.aws.store import TTL_ATTRIBUTE, parse_url
from adapters.azure.dlq import QueueSink
from adapters.azure.store import TableStore
from portable._serve import load_target
from samples import orders
from tests.aws.test_sample import CloudFormationLoader
from tests.azure import _host
from tests.conftest import REPO
from tests.samples.support import SAMPLES, wrapper

SAMPLE_NAMES = ["upload", "orders"]
MAX_ATTEMPTS = 5


def template(sample: str) -> dict[str, Any]:
    path = SAMPLES / sample / "aws" / "template.yaml"
    loaded: dict[str, Any] = yaml.load(path.read_text(), Loader=CloudFormationLoader)  # noqa: S506
    return loaded


def only(resources: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    [(name, resource)] = [(n, r) for n, r in resources.items() if r["Type"] == kind]
    return name, resource["Properties"]


def substituted(value: dict[str, str], names: dict[str, str]) -> str:
    text = value["Sub"]
    for placeholder, name in {"${AWS::Region}": "eu-west-1", "${AWS::AccountId}": "123456789012",
                              **names}.items():
        text = text.replace(placeholder, name)
    assert "${" not in text, text
    return text


@pytest.mark.parametrize("sample", SAMPLE_NAMES)
def test_the_sam_template_deploys_the_lambda_entry_behind_a_redriven_queue(
        sample: str, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = template(sample)
    resources = loaded["Resources"]
    _, function = only(resources, "AWS::Serverless::Function")
    module, _, name = function["Handler"].rpartition(".")
    assert callable(wrapper(sample, "aws", monkeypatch).lambda_handler)
    assert module == f"samples.{sample}.aws.app" and name == "lambda_handler"
    assert callable(load_target(f"{module}:{name}"))
    assert (SAMPLES / sample / "aws" / function["CodeUri"]).resolve() == REPO.resolve()

    [source] = function["Events"].values()
    assert source["Type"] == "SQS"
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = resources[source["Properties"]["Queue"]["GetAtt"].removesuffix(".Arn")]["Properties"]
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"GetAtt": "DeadLetterQueue.Arn"},
                                      "maxReceiveCount": MAX_ATTEMPTS}
    assert queue["VisibilityTimeout"] >= 6 * loaded["Globals"]["Function"]["Timeout"]

    variables = function["Environment"]["Variables"]
    table = parse_url(substituted(variables["PORTABLE_STORE"],
                                  {"${IdempotencyTable}": "idempotency"}))
    assert table == ("idempotency", False, None)
    assert resources["IdempotencyTable"]["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    sink = QueueSpec.parse(substituted(variables["PORTABLE_DLQ"],
                                       {"${DeadLetterQueue.QueueName}": "letters"}))
    assert (sink.name, sink.region) == ("letters", "eu-west-1")


def test_the_upload_template_versions_the_bucket_and_grants_reading_any_version() -> None:
    resources = template("upload")["Resources"]
    bucket = resources["UploadsBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    [notification] = bucket["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Queue"] == {"GetAtt": "UploadsQueue.Arn"}
    _, function = only(resources, "AWS::Serverless::Function")
    actions = {action for policy in function["Policies"] if "Statement" in policy
               for statement in policy["Statement"] for action in statement["Action"]
               if isinstance(statement["Action"], list)}
    assert {"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"} <= actions


def test_the_orders_template_publishes_to_its_own_queue_unless_told_otherwise() -> None:
    resources = template("orders")["Resources"]
    _, function = only(resources, "AWS::Serverless::Function")
    condition, own, given = function["Environment"]["Variables"]["ORDERS_PUBLISH_TO"]["If"]
    assert condition == "PublishToOwnQueue" and given == {"Ref": "PublishTo"}
    url = substituted(own, {"${AcceptedQueue.QueueName}": "accepted"})
    publisher, address = orders.PUBLISHERS[url.split(":")[0]]
    assert publisher == "adapters.aws:publish"
    assert Destination.parse(address(url)).target == "sqs"
    granted = [p["SQSSendMessagePolicy"]["QueueName"] for p in function["Policies"]
               if "SQSSendMessagePolicy" in p]
    assert {"GetAtt": "AcceptedQueue.QueueName"} in granted


def settings(sample: str) -> dict[str, str]:
    values: dict[str, str] = json.loads(
        (SAMPLES / sample / "azure" / "local.settings.json").read_text())["Values"]
    return values


@pytest.mark.parametrize(("sample", "trigger"), [("upload", "blobTrigger"),
                                                 ("orders", "queueTrigger")])
def test_the_function_app_loads_and_retries_as_host_json_says(
        sample: str, trigger: str, monkeypatch: pytest.MonkeyPatch) -> None:
    function_app = wrapper(sample, "azure", monkeypatch)
    functions = _host.index(function_app.app)  # with the worker's load-time checks
    assert trigger in {f.trigger["type"] for f in functions.values()}
    host = json.loads((SAMPLES / sample / "azure" / "host.json").read_text())
    queues = host["extensions"]["queues"]
    assert queues["maxDequeueCount"] == function_app.MAX_DEQUEUE_COUNT == MAX_ATTEMPTS
    assert queues["messageEncoding"] == "base64"  # what adapters.azure.publish writes

    values = settings(sample)
    assert TableStore.from_url(values["PORTABLE_STORE"]).table
    sink = QueueSink.from_url(values["PORTABLE_DLQ"])
    assert sink.target == f"samples.{sample}:app" and callable(load_target(sink.target))
    requirements = (SAMPLES / sample / "azure" / "requirements.txt").read_text().split()
    assert "portable-functions[azure]" in requirements and "azure-functions" in requirements


def test_the_upload_function_app_binds_a_client_so_that_blobs_are_streamed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    functions = _host.index(wrapper("upload", "azure", monkeypatch).app)
    [blob] = [f for f in functions.values() if f.trigger["type"] == "blobTrigger"]
    assert blob.trigger["path"] == "uploads/{name}"
    assert blob.fn.__annotations__["client"].__name__ == "BlobClient"
    assert "azurefunctions-extensions-bindings-blob" in (
        SAMPLES / "upload" / "azure" / "requirements.txt").read_text().split()


@pytest.mark.parametrize("sample", SAMPLE_NAMES)
def test_deploy_sh_parses_and_deploys_entries_that_count_the_same_attempts(
        sample: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the commands of deploy.sh say (its dead-letter policy counts the entry's
    MAX_DELIVERY_ATTEMPTS too) is checked by running it: test_gcp_deploy.py."""
    for script in (SAMPLES / sample / "gcp" / "deploy.sh", SAMPLES / "gcp_deploy.sh"):
        subprocess.run(["bash", "-n", str(script)], check=True)
    main = wrapper(sample, "gcp", monkeypatch)
    assert callable(main.main) and callable(main.push)
    assert main.MAX_DELIVERY_ATTEMPTS == MAX_ATTEMPTS


def test_every_sample_has_a_readme_naming_its_wrappers() -> None:
    for sample in SAMPLE_NAMES:
        readme = (SAMPLES / sample / "README.md").read_text()
        for wrapper_file in ("aws/template.yaml", "azure/function_app.py", "gcp/deploy.sh"):
            assert wrapper_file in readme, (sample, wrapper_file)
            assert (SAMPLES / sample / wrapper_file).exists()


def test_the_wrappers_import_nothing_but_the_sample_and_their_adapter() -> None:
    for sample in SAMPLE_NAMES:
        for provider, entry in (("aws", "app.py"), ("azure", "function_app.py"),
                                ("gcp", "main.py")):
            source = Path(SAMPLES / sample / provider / entry).read_text()
            imported = set(re.findall(r"^(?:from|import) ([\w.]+)", source, re.MULTILINE))
            assert imported <= {"adapters", f"samples.{sample}", "os", "azure.functions"}, (
                sample, provider, imported)
        handler = (SAMPLES / sample / "__init__.py").read_text()
        modules = set(re.findall(r"^(?:from|import) ([\w.]+)", handler, re.MULTILINE))
        assert not {m for m in modules if m.split(".")[0] in ("adapters", "boto3", "azure",
                                                             "google")}, (sample, modules)
