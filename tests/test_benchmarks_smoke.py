"""Every benchmark still runs (``python -m tests.benchmarks --quick``): tiny counts, so a broken
benchmark shows in CI. Nothing here is timed; the verdicts are tested on made-up figures."""

from __future__ import annotations

import math

import pytest

from tests.benchmarks import __main__ as benchmarks
from tests.benchmarks._table import Row, Target, format_table, skipped


@pytest.mark.parametrize("name", benchmarks.modules())
def test_each_benchmark_measures_its_cases(name: str) -> None:
    rows = benchmarks.collect([name], quick=True)
    assert rows, f"{name} measured nothing"
    for row in rows:
        if row.note.startswith("skipped:"):
            assert "not installed" in row.note, row.note  # only a missing peer or binary
            continue
        assert math.isfinite(row.ours) and row.ours > 0, row
        assert row.peer is None or (math.isfinite(row.peer) and row.peer > 0), row
    table = format_table(rows, verdicts=False)
    assert all(row.case in table for row in rows) and "MISSED" not in table


def test_every_case_of_the_issue_has_a_module() -> None:
    assert set(benchmarks.ORDER) <= set(benchmarks.modules())


def test_verdicts_follow_the_targets() -> None:
    added = Target(50.0, compared=True)
    assert Row("cold", 70.0, "ms", 25.0, added, difference=True).verdict() == "ok"
    assert Row("cold", 80.0, "ms", 25.0, added, difference=True).verdict() == "MISSED"
    ratio = Target(1.0, compared=True)
    assert Row("convert", 3.0, "us", 3.3, ratio).verdict() == "ok"
    assert Row("convert", 3.6, "us", 3.3, ratio).verdict() == "MISSED"
    floor = Target(20_000.0, at_least=True)
    assert Row("pipeline", 19_999.0, "events/s", target=floor).verdict() == "MISSED"
    assert Row("pipeline", 25_000.0, "events/s", target=floor).verdict() == "ok"
    assert skipped("redis", "redis-server is not installed").verdict() == "-"


def test_the_table_shows_figures_comparisons_and_targets() -> None:
    rows = [Row("cold start: aws", 70.0, "ms", 25.0, Target(50.0, compared=True),
                difference=True),
            Row("served", 1700.0, "req/s", 2000.0, Target(0.85, compared=True, at_least=True))]
    lines = format_table(rows).splitlines()
    assert lines[0].split()[:2] == ["case", "ours"]
    assert "+45.0 ms" in lines[1] and "added <= 50.0 ms" in lines[1] and lines[1].endswith("ok")
    assert "x0.85" in lines[2] and "ratio >= 0.85" in lines[2] and lines[2].endswith("ok")
