"""Run every benchmark module of this package and print one table: ``python -m tests.benchmarks``.

    python -m tests.benchmarks [--quick] [--only NAME ...]

A benchmark module has ``rows(quick)``, returning :class:`tests.benchmarks._table.Row` objects,
and a ``main(argv)`` that prints its own rows alone. The figures are measurements to read, not
timed tests: they vary with the machine and its load, which is why each compares with its peer
measured in the same run. ``--quick`` runs tiny counts, to check that every benchmark works.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time

import tests.benchmarks as package
from tests.benchmarks._table import Row, format_table

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
        module = importlib.import_module(f"{package.__name__}.{name}")
        started = time.perf_counter()
        rows.extend(module.rows(quick=quick))
        print(f"  {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return rows


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks",
                                     description="every benchmark, one table")
    parser.add_argument("--quick", action="store_true", help="tiny counts: check, do not time")
    parser.add_argument("--only", nargs="+", choices=modules(), help="these modules only")
    args = parser.parse_args(argv)
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
