"""The hello sample's SAM template agrees with the code it deploys: the handler it names, the
store and sink URLs it sets, the table the store expects, the queue settings the entry
documents. (No emulator here runs CloudFormation with SAM's transform.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.aws.dlq import QueueSpec
from adapters.aws.store import TTL_ATTRIBUTE, parse_url
from portable._serve import load_target
from tests.conftest import REPO

TEMPLATE = REPO / "samples" / "hello" / "aws" / "template.yaml"


class CloudFormationLoader(yaml.SafeLoader):  # type: ignore[misc]
    """Reads ``!Ref``, ``!Sub``, ``!GetAtt``... as ``{"Fn": value}``."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    else:
        value = loader.construct_sequence(node)
    return {suffix: value}


CloudFormationLoader.add_multi_constructor("!", _tag)


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    template = yaml.load(Path(TEMPLATE).read_text(), Loader=CloudFormationLoader)  # noqa: S506
    return dict(template["Resources"])


def test_the_function_is_the_lambda_entry_of_the_sample(
    resources: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTABLE_STORE", "memory://")
    monkeypatch.setenv("PORTABLE_DLQ", "memory://")
    properties = resources["HelloFunction"]["Properties"]
    module, _, name = properties["Handler"].rpartition(".")
    assert callable(load_target(f"{module}:{name}"))
    assert (TEMPLATE.parent / properties["CodeUri"]).resolve() == REPO.resolve()  # the packages


def test_the_queue_reports_partial_failures_and_redrives_after_five_receives(
    resources: dict[str, Any],
) -> None:
    source = resources["HelloFunction"]["Properties"]["Events"]["Queue"]["Properties"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["Queue"] == {"GetAtt": "EventsQueue.Arn"}
    queue = resources["EventsQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"GetAtt": "DeadLetterQueue.Arn"},
                                      "maxReceiveCount": 5}
    assert queue["VisibilityTimeout"] >= 6 * 30


def test_the_store_and_sink_urls_name_the_declared_table_and_queue(
    resources: dict[str, Any],
) -> None:
    variables = resources["HelloFunction"]["Properties"]["Environment"]["Variables"]
    store = variables["PORTABLE_STORE"]["Sub"].replace("${IdempotencyTable}", "orders-table")
    assert parse_url(store) == ("orders-table", False, None)
    sink = variables["PORTABLE_DLQ"]["Sub"].replace("${AWS::Region}", "eu-west-1").replace(
        "${AWS::AccountId}", "123456789012").replace("${DeadLetterQueue.QueueName}", "dlq")
    assert QueueSpec.parse(sink).name == "dlq" and QueueSpec.parse(sink).region == "eu-west-1"
    table = resources["IdempotencyTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
