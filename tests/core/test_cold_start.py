"""Importing portable loads no cloud SDK and no tenacity (cold starts stay short)."""

from __future__ import annotations

import json
import subprocess
import sys

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
