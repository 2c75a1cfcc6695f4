"""Cold start: importing the GCP adapter loads no Google Cloud SDK, nor tenacity."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("google.cloud.pubsub_v1", "google.cloud.storage", "google.cloud.firestore",
         "google.api_core", "tenacity")

PROBE = f"""
import json, sys, time
start = time.perf_counter()
import functions_framework
framework = time.perf_counter()
import adapters.gcp
done = time.perf_counter()
heavy = sorted(m for m in sys.modules if m.startswith({HEAVY!r}))
print(json.dumps({{"heavy": heavy, "framework_ms": (framework - start) * 1000,
                   "added_ms": (done - framework) * 1000}}))
"""


def test_importing_the_gcp_adapter_loads_no_cloud_sdk() -> None:
    # 'google' and 'google.cloud' themselves are namespace entries that .pth files create.
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            check=True, timeout=60)
    probe = json.loads(result.stdout)
    assert probe["heavy"] == []
    print(f"\nimport adapters.gcp adds {probe['added_ms']:.1f} ms over functions_framework "
          f"({probe['framework_ms']:.1f} ms)")
