"""Cold start: the wall time of a fresh interpreter that loads a provider's entry module, minus
the same interpreter loading only what that platform loads before user code anyway.

    python -m tests.benchmarks.cold_start [--runs N]

Each deployment module is what a user writes: import the adapter, define a handler, build the
entry at module level (which builds the pipeline). Baselines: nothing for Lambda (the runtime
imports the handler module into a bare interpreter), ``azure.functions`` for Azure (the worker
has it loaded), ``functions_framework`` for Google Cloud (it imports the user's source). Runs
alternate between the cases, and each case keeps its median. Bytecode is compiled once
before timing (into a cache folder of the run's own), as a pip install or a deployment
package has it: a process that compiles every module on every start measures the compiler.

The interpreter is a deployment's, not this checkout's: a fresh virtual environment whose only
addition is a ``.pth`` listing the source tree and the installed packages as plain folders. The
development environment's editable install runs a finder at every start that already imports
``re``, ``enum``, ``pathlib`` and ``urllib.parse``, which would hide what the entries cost.
"""

from __future__ import annotations

import argparse
import os
import site
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

from tests.benchmarks._table import Row, Target, format_table, median_interleaved

ADDED_MS = 50.0
"""Milliseconds an entry may add to the platform's own start (issue 13)."""

HANDLER = "def main(event):\n    return None\n"
OPTIONS = "store='memory://', dlq='memory://'"
ENTRIES: dict[str, tuple[str, str]] = {
    # case: (baseline the platform loads anyway, the user's deployment module)
    "cold start: import portable (vs python -c pass)": ("pass", "import portable"),
    "cold start: portable.Pipeline built (vs python)": (
        "pass", f"import portable\n{HANDLER}pipeline = portable.Pipeline(main, {OPTIONS})"),
    "cold start: aws.lambda_handler module (vs python)": (
        "pass",
        f"from adapters import aws\n{HANDLER}handler = aws.lambda_handler(main, {OPTIONS})",
    ),
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
TARGETED = frozenset(list(ENTRIES)[2:])
"""The provider entries carry the target; the core alone is reported for comparison (importing
``portable`` loads its modules lazily, on first use of a name)."""
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


def rows(quick: bool = False, runs: int = 21) -> list[Row]:
    runs = 1 if quick else runs
    codes = sorted({code for pair in ENTRIES.values() for code in pair})
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
            for case, (baseline, module) in ENTRIES.items()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.cold_start",
                                     description="cold start of each entry")
    parser.add_argument("--runs", type=int, default=21, help="interpreter starts per case")
    args = parser.parse_args(argv)
    print(format_table(rows(runs=args.runs)))


if __name__ == "__main__":
    main(sys.argv[1:])
