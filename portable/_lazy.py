"""Package exports loaded on first use (PEP 562): a package's public names are importable as
usual, but each defining module is imported only when one of its names is first looked up, so
an entry pays at cold start only for what it uses."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, origins: Mapping[str, str], namespace: dict[str, Any],
                 modules: frozenset[str] = frozenset()
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``origins`` maps each public name to the
    module defining it (relative names allowed); names in ``modules`` are modules themselves."""

    def __getattr__(name: str) -> Any:
        origin = origins.get(name)
        if origin is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(origin, package)
        value = module if name in modules else getattr(module, name)
        namespace[name] = value  # the next lookup is an ordinary global
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *origins})

    return __getattr__, __dir__
