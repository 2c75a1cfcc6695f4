"""Cold start: importing the Azure adapter loads no storage SDK, no tenacity, and not even
azure.functions (``register`` imports it; the Functions host has it loaded already)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

PROBE = """
import json, sys, time
started = time.perf_counter()
import adapters.azure
elapsed = time.perf_counter() - started
heavy = sorted(m for m in sys.modules
               if m.split('.')[0] == 'tenacity' or m.startswith(('azure.storage', 'azure.data',
                                                                  'azure.functions', 'boto')))
print(json.dumps({"ms": round(elapsed * 1000, 1), "heavy": heavy}))
"""


def test_import_loads_no_cloud_sdk_and_is_fast() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True,
                         text=True, check=True, timeout=60)
    report = json.loads(out.stdout)
    print(f"import adapters.azure: {report['ms']} ms")
    assert report["heavy"] == []
    assert report["ms"] < 1500  # ~70 ms here, nearly all of it `portable` and cloudevents
