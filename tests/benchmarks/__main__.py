"""Run every benchmark module of this package and print one table: ``python -m tests.benchmarks``.

    python -m tests.benchmarks [--quick] [--only NAME ...]

A benchmark module has ``rows(quick)``, returning :class:`tests.benchmarks._table.Row` objects,
and runs alone (``python -m tests.benchmarks.NAME``, through ``_table.run_alone``), with
one option per keyword of its ``rows``. The figures are measurements to read, not
timed tests: they vary with the machine and its load, which is why each compares with its peer
measured in the same run. ``--quick`` runs tiny counts, to check that every benchmark works.

Each module runs in an interpreter of its own, so what one leaves behind (threads, servers
winding down, a heap full of objects for the garbage collector to walk) does not slow the next.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import pkgutil
import subprocess
import sys
import time
from pathlib import Path

import tests.benchmarks as package
from tests.benchmarks._table import Row, Target, format_table

SOURCE_TREE = Path(__file__).resolve().parents[2]
ORDER = ("cold_start", "conversion", "pipeline_cost", "served", "large_batch", "store_throughput")
"""The issue's order; a module not listed runs after these."""


def modules() -> list[str]:
    found = [info.name for info in pkgutil.iter_modules(package.__path__)
             if not info.name.startswith("_")]
    return sorted(found, key=lambda name: (ORDER.index(name) if name in ORDER else len(ORDER),
                                           name))


def collect(names: list[str], quick: bool = False) -> list[Row]:
    rows: list[Row] = []
    for name in names:
        started = time.perf_counter()
        rows.extend(rows_in_own_process(name, quick))
        print(f"  {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return rows


def rows_in_own_process(name: str, quick: bool) -> list[Row]:
    command = [sys.executable, "-m", package.__name__, "--rows-of", name]
    done = subprocess.run(command + (["--quick"] if quick else []), stdout=subprocess.PIPE,
                          text=True, check=True, cwd=SOURCE_TREE)
    return [Row(**{**row, "target": row["target"] and Target(**row["target"])})
            for row in json.loads(done.stdout)]


def print_rows_of(name: str, quick: bool) -> None:
    module = importlib.import_module(f"{package.__name__}.{name}")
    print(json.dumps([dataclasses.asdict(row) for row in module.rows(quick=quick)]))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks",
                                     description="every benchmark, one table")
    parser.add_argument("--quick", action="store_true", help="tiny counts: check, do not time")
    parser.add_argument("--only", nargs="+", choices=modules(), help="these modules only")
    parser.add_argument("--rows-of", choices=modules(), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rows_of:  # one module, run by collect() in a process of its own
        print_rows_of(args.rows_of, args.quick)
        return
    started = time.perf_counter()
    rows = collect(args.only or modules(), quick=args.quick)
    print(format_table(rows, verdicts=not args.quick))
    elapsed = time.perf_counter() - started
    if args.quick:
        print(f"\n{len(rows)} figures from tiny counts (--quick): no verdicts, {elapsed:.0f} s")
        return
    missed = [row.case for row in rows if row.verdict() == "MISSED"]
    print(f"\n{len(rows)} figures, {len(missed)} target(s) missed, {elapsed:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
