"""Run every benchmark module of this package: ``python -m tests.benchmarks``.

A benchmark module has a ``main(argv)`` that prints its figures; these are measurements to
read, not timed tests (figures vary with the machine and its load).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import tests.benchmarks as package


def main(argv: list[str]) -> None:
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        print(f"== {info.name}")
        module.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
