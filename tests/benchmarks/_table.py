"""What every benchmark module shares: a row of the one table, its target, and timing helpers.

A module measures its cases and returns :class:`Row` objects from ``rows(quick)``;
``python -m tests.benchmarks`` prints the rows of every module as one table, so figures and the
peers' figures in one verdict come from the same run on the same (possibly noisy) machine.
``quick`` runs tiny counts: the smoke test uses it to notice a broken benchmark, not to time.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from portable import _logging
from portable._logging import JsonFormatter, LineHandler, logger


@dataclass(frozen=True)
class Target:
    """A bound on our figure, or (``compared``) on the row's comparison with its peer: the
    ratio ``ours / peer``, or the difference ``ours - peer`` for rows that report one.
    ``at_least`` for throughputs; otherwise the bound is a ceiling."""

    bound: float
    compared: bool = False
    at_least: bool = False

    def met(self, row: Row) -> bool | None:
        value = row.compared() if self.compared else row.ours
        if value is None or value != value:  # no peer, or a skipped case
            return None
        return value >= self.bound if self.at_least else value <= self.bound

    def describe(self, row: Row) -> str:
        sign = ">=" if self.at_least else "<="
        if not self.compared:
            return f"{sign} {_number(self.bound)} {row.unit}"
        if row.difference:
            return f"added {sign} {_number(self.bound)} {row.unit}"
        return f"ratio {sign} {self.bound:g}"


@dataclass(frozen=True)
class Row:
    """One line of the table: our figure and the peer's (or the baseline's) in one unit,
    compared as a ratio, or as a difference (``difference``: what we add to a baseline)."""

    case: str
    ours: float
    unit: str
    peer: float | None = None
    target: Target | None = None
    difference: bool = False
    note: str = ""

    def compared(self) -> float | None:
        if self.peer is None:
            return None
        if self.difference:
            return self.ours - self.peer
        return self.ours / self.peer if self.peer else None

    def comparison(self) -> str:
        value = self.compared()
        if value is None or value != value:
            return "-"
        return f"+{_number(value)} {self.unit}" if self.difference else f"x{value:.3g}"

    def verdict(self) -> str:
        met = None if self.target is None else self.target.met(self)
        return {None: "-", True: "ok", False: "MISSED"}[met]


def skipped(case: str, reason: str) -> Row:
    """A case that could not run here (a missing binary): shown, never counted as missed."""
    return Row(case, float("nan"), "", note=f"skipped: {reason}")


COLUMNS = ("case", "ours", "peer / baseline", "vs peer", "target", "verdict")


def format_table(rows: Sequence[Row], verdicts: bool = True) -> str:
    """The rows as aligned text; ``verdicts=False`` for figures too small to judge."""
    lines = [[row.case, _figure(row.ours, row.unit), _figure(row.peer, row.unit),
              row.comparison(), row.target.describe(row) if row.target else "-",
              (row.verdict() if verdicts else "-") + (f"  {row.note}" if row.note else "")]
             for row in rows]
    widths = [max(len(cells[i]) for cells in [list(COLUMNS), *lines]) for i in range(5)]
    out = []
    for cells in [list(COLUMNS), *lines]:
        out.append("  ".join([cells[0].ljust(widths[0])]
                             + [cells[i].rjust(widths[i]) for i in range(1, 5)] + [cells[5]]))
    return "\n".join(out)


def _figure(value: float | None, unit: str) -> str:
    if value is None or value != value:  # absent, or NaN for a skipped case
        return "-"
    return f"{_number(value)} {unit}"


def _number(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


# -- timing --------------------------------------------------------------------------------


def calibrate(fn: Callable[[], object], seconds: float) -> int:
    """How many calls of ``fn`` take about ``seconds`` (at least one)."""
    number = 1
    while True:
        started = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - started
        if elapsed >= seconds / 4 or number >= 1 << 24:
            return max(1, int(number * seconds / max(elapsed, 1e-9)))
        number *= 4


def per_call(fn: Callable[[], object], number: int) -> float:
    """CPU seconds per call over ``number`` calls. CPU time, not wall time: on a machine
    shared with other work, waiting for a core is not a cost of the code measured."""
    started = time.process_time()
    for _ in range(number):
        fn()
    return (time.process_time() - started) / number


def best_interleaved(cases: Sequence[Callable[[], float]], rounds: int) -> list[float]:
    """Run each measurement ``rounds`` times, alternating between them, and keep each one's
    best (smallest) figure: the rounds least disturbed by other load, taken side by side."""
    results: list[list[float]] = [[] for _ in cases]
    for _ in range(rounds):
        for index, measure in enumerate(cases):
            results[index].append(measure())
    return [min(values) for values in results]


def median_interleaved(cases: Sequence[Callable[[], float]], rounds: int) -> list[float]:
    """As :func:`best_interleaved`, keeping the median (for wall times of whole processes)."""
    results: list[list[float]] = [[] for _ in cases]
    for _ in range(rounds):
        for index, measure in enumerate(cases):
            results[index].append(measure())
    return [statistics.median(values) for values in results]


@contextmanager
def quiet_logs() -> Iterator[None]:
    """The pipeline's JSON log lines go to the null device instead of the terminal: written
    as in production (the default handler, one ``write`` per line), but off the table."""
    null = os.open(os.devnull, os.O_WRONLY)
    saved = (logger.handlers[:], logger.level, logger.propagate, _logging._own)
    handler = LineHandler(null)
    handler.setFormatter(JsonFormatter())
    logger.handlers[:] = [handler]
    _logging._own = handler
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.handlers[:], logger.level, logger.propagate, _logging._own = saved
        os.close(null)


def run_alone(rows: Callable[..., list[Row]], description: str,
              argv: Sequence[str] | None = None) -> None:
    """A benchmark module's own command line (``python -m tests.benchmarks.NAME``): one option
    per keyword of its ``rows`` but ``quick``, with that keyword's default and type; prints the
    module's rows as a table."""
    module = sys.modules[rows.__module__].__spec__  # its real name, also when run as __main__
    parser = argparse.ArgumentParser(prog=f"python -m {module.name if module else rows.__module__}",
                                     description=description)
    for name, parameter in inspect.signature(rows).parameters.items():
        if name != "quick":
            parser.add_argument(f"--{name}", type=type(parameter.default),
                                default=parameter.default, help=f"default {parameter.default}")
    options = vars(parser.parse_args(sys.argv[1:] if argv is None else argv))
    print(format_table(rows(**options)))
