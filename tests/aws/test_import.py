"""Cold start: importing the AWS entry loads no AWS SDK (boto3 alone adds ~140 ms) and no
tenacity."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

PROBE = """
import json, sys, time
started = time.perf_counter()
import adapters.aws
elapsed = time.perf_counter() - started
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore", "tenacity"))
print(json.dumps({"seconds": elapsed, "heavy": heavy}))
"""


def test_importing_the_aws_adapter_loads_no_sdk() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    report = json.loads(out)
    assert report["heavy"] == []
    print(f"import adapters.aws: {report['seconds'] * 1000:.0f} ms")
