"""Cold start: the wall time of a fresh interpreter that loads a provider's entry module, minus
the same interpreter loading only what that platform loads before user code anyway.

    python -m tests.benchmarks.cold_start [--runs N]

Each deployment module is what a user writes: import the adapter, define a handler, build the
entry at module level (which builds the pipeline). Baselines, what each platform has loaded
when it imports the user's module: for Lambda its runtime interface client, ``awslambdaric``,
which the managed Python runtimes bundle and whose bootstrap imports ``logging``, ``json``,
``traceback`` and ``decimal`` before it imports the handler (a reference row shows the same entry
over a bare interpreter, the issue's first reading, and two more the figures it gave to compare
with: the cloudevents SDK alone and Powertools' idempotency); ``azure.functions`` for Azure (the
worker has it loaded); ``functions_framework`` for Google Cloud (it imports the user's source).
Runs alternate between the cases, and each case keeps its median. Bytecode is compiled once
before timing (into a cache folder of the run's own), as a pip install or a deployment
package has it: a process that compiles every module on every start measures the compiler.

The interpreter is a deployment's, not this checkout's: a fresh virtual environment whose only
addition is a ``.pth`` listing the source tree and the installed packages as plain folders. The
development environment's editable install runs a finder at every start that already imports
``re``, ``enum``, ``pathlib`` and ``urllib.parse``, which would hide what the entries cost.
"""

from __future__ import annotations

import importlib.util
import os
import site
import subprocess
import tempfile
import time
import venv
from pathlib import Path

from tests.benchmarks._table import (
    Row,
    Target,
    median_interleaved,
    run_alone,
    skipped,
)

ADDED_MS = 50.0
"""Milliseconds an entry may add to the platform's own start (issue 13)."""

HANDLER = "def main(event):\n    return None\n"
OPTIONS = "store='memory://', dlq='memory://'"
LAMBDA_RUNTIME = "import awslambdaric.__main__"
"""What Lambda's Python runtime has imported when it imports the handler module."""
LAMBDA_ENTRY = f"from adapters import aws\n{HANDLER}handler = aws.lambda_handler(main, {OPTIONS})"
ENTRIES: dict[str, tuple[str, str]] = {
    # case: (baseline the platform loads anyway, the user's deployment module)
    "cold start: import portable (vs python -c pass)": ("pass", "import portable"),
    "cold start: portable.Pipeline built (vs python)": (
        "pass", f"import portable\n{HANDLER}pipeline = portable.Pipeline(main, {OPTIONS})"),
    "cold start: import cloudevents.http, for comparison (vs python)": (
        "pass", "import cloudevents.http"),
    "cold start: Powertools idempotency, for comparison (vs python)": (
        "pass", "from aws_lambda_powertools.utilities.idempotency import idempotent"),
    "cold start: aws.lambda_handler module (vs python)": ("pass", LAMBDA_ENTRY),
    "cold start: aws.lambda_handler module (vs Lambda's runtime client)": (
        LAMBDA_RUNTIME, f"{LAMBDA_RUNTIME}\n{LAMBDA_ENTRY}"),
    "cold start: azure.register module (vs azure.functions)": (
        "import azure.functions",
        "import azure.functions as func\nfrom adapters import azure\n"
        f"{HANDLER}app = func.FunctionApp()\n"
        f"azure.register(app, main, event_grid=True, queue='events', {OPTIONS})",
    ),
    "cold start: gcp.cloud_function module (vs functions_framework)": (
        "import functions_framework",
        f"import functions_framework\nfrom adapters import gcp\n{HANDLER}"
        f"main = gcp.cloud_function(main, {OPTIONS})",
    ),
}
TARGETED = frozenset(list(ENTRIES)[5:])
"""The provider entries over what their platform loads carry the target; the rest are reported
for comparison (importing ``portable`` loads its modules lazily, on first use of a name)."""
PEERS = ("awslambdaric", "aws_lambda_powertools")
"""Installed for the benchmark only (the ``bench`` extra): a case that imports a missing one is
skipped with a note."""
# Variables that would make the entries behave as on a cloud runtime, or pick other backends.
_CLEARED = ("AWS_LAMBDA_FUNCTION_NAME", "WEBSITE_INSTANCE_ID", "K_SERVICE", "FUNCTION_NAME",
            "PORTABLE_STORE", "PORTABLE_DLQ", "PYTHONDONTWRITEBYTECODE")


def deployment_python(folder: Path) -> str:
    """A fresh virtual environment in ``folder`` that sees the source tree and this
    environment's packages as plain folders, as a deployment package does; its python."""
    venv.create(folder, with_pip=False, symlinks=True)  # the interpreter itself, not a copy
    source_tree = Path(__file__).resolve().parents[2]
    inside = Path(subprocess.run(
        [folder / "bin" / "python", "-c", "import site; print(site.getsitepackages()[0])"],
        check=True, capture_output=True, text=True).stdout.strip())
    paths = [str(source_tree), *site.getsitepackages()]
    (inside / "deployment.pth").write_text("\n".join(paths) + "\n", encoding="utf-8")
    return str(folder / "bin" / "python")


def wall_ms(python: str, code: str, bytecode: str) -> float:
    """Milliseconds for ``python -c code`` to start, run and exit (bytecode cached under the
    folder ``bytecode``)."""
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    env["PYTHONPYCACHEPREFIX"] = bytecode
    started = time.perf_counter()
    done = subprocess.run([python, "-c", code], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode:
        raise RuntimeError(f"python -c {code!r} failed:\n{done.stderr}")
    return elapsed


def missing_peer(code: str) -> str | None:
    return next((name for name in PEERS
                 if f"import {name}" in code and importlib.util.find_spec(name) is None), None)


def rows(quick: bool = False, runs: int = 21) -> list[Row]:
    runs = 1 if quick else runs
    entries = {case: pair for case, pair in ENTRIES.items() if not missing_peer(pair[1])}
    codes = sorted({code for pair in entries.values() for code in pair})
    with tempfile.TemporaryDirectory(prefix="portable-cold-start-") as folder:
        python = deployment_python(Path(folder) / "venv")
        bytecode = str(Path(folder) / "bytecode")
        for code in codes:
            wall_ms(python, code, bytecode)  # compile and cache bytecode, warm the file cache
        medians = dict(zip(codes, median_interleaved(
            [lambda code=code: wall_ms(python, code, bytecode) for code in codes], runs),
            strict=True))
    return [Row(case, medians[module], "ms", medians[baseline],
                Target(ADDED_MS, compared=True) if case in TARGETED else None,
                difference=True, note=f"median of {runs}")
            if case in entries else
            skipped(case, f"{missing_peer(module)} is not installed (pip install -e '.[bench]')")
            for case, (baseline, module) in ENTRIES.items()]



if __name__ == "__main__":
    run_alone(rows, "cold start of each entry")
