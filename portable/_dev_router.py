"""What ``portable dev`` serves under functions-framework: the handler behind each provider's
own entry, chosen by the first segment of the URL path, and one printed line per delivery.

=========================================  ================================================
path                                       entry (built once, when the server starts)
=========================================  ================================================
``/2015-03-31/functions/NAME/invocations``  ``aws.lambda_handler`` (the Lambda Invoke API)
``/azure/FUNCTION``                        the functions ``azure.register`` added
``/gcp/push/...``, ``/gcp/storage``        ``gcp.push_handler``, ``gcp.cloud_function``
anything else                              ``portable serve`` (CloudEvents; the folder)
=========================================  ================================================

Every entry runs the real pipeline, whose log records say what became of each event; the
:class:`DeliveryPrinter` turns those records into the lines a developer watches (provider,
type, subject, outcome, attempt) on stdout, and the JSON logs go to a file.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from ._app import App, Handler, as_app
from ._logging import JsonFormatter, logger
from ._serve import DEFAULT_MAX_BODY, MAX_BODY_ENV, TARGET_ENV, Server, flask_view, load_target

ENTRY_NAME = "portable_dev"
PROVIDERS_ENV = "PORTABLE_DEV_PROVIDERS"
LOG_ENV = "PORTABLE_DEV_LOG"

View = Callable[[Any], Any]
"""A flask request -> a response, as functions-framework's http signature has it."""

_LETTER = re.compile(r"dead-lettered \(([^)]+)\)")


def router(routes: Mapping[str, View], fallback: View) -> View:
    """The view of the first path segment (functions-framework serves only functions)."""
    table = dict(routes)

    def portable_dev(request: Any) -> Any:
        first = str(request.path).strip("/").split("/", 1)[0]
        return table.get(first, fallback)(request)

    return portable_dev


class DeliveryPrinter(logging.Handler):
    """One line per pipeline outcome, printed as it happens."""

    def __init__(self, write: Callable[[str], Any] | None = None) -> None:
        super().__init__(logging.INFO)
        self.write = write or _stdout

    def emit(self, record: logging.LogRecord) -> None:
        outcome = getattr(record, "outcome", None)
        if outcome is None:
            return
        subject = getattr(record, "subject", None) or ""
        self.write(delivery_line(
            provider=getattr(record, "provider", None) or "?",
            event_type=getattr(record, "event_type", None) or "(bad input)",
            subject=str(subject), outcome=str(outcome),
            attempt=getattr(record, "attempt", None),
            error=_error(record), letter=_letter(record)))


def delivery_line(*, provider: str, event_type: str, subject: str, outcome: str,
                  attempt: object, error: str | None = None, letter: str | None = None) -> str:
    line = (f"{provider:<6} {event_type:<42} {subject:<30} {outcome:<14} "
            f"attempt {attempt if attempt is not None else '-'}")
    if error:
        line += f"  {error}"
    if letter:
        line += f"  (portable dlq show {letter})"
    return line


def dev_options(target: App | Handler, options: Mapping[str, Any],
                attempts: int) -> dict[str, Any]:
    """``options`` with ``max_attempts=attempts`` unless the App sets its own: for the emulated
    platforms that leave the last attempt to a policy no emulator applies."""
    if "max_attempts" in as_app(target).options:
        return dict(options)
    return {**options, "max_attempts": attempts}


def build() -> View:
    """The served function, from PORTABLE_TARGET and PORTABLE_DEV_PROVIDERS."""
    target = load_target(os.environ[TARGET_ENV])
    _log_to(os.environ.get(LOG_ENV), DeliveryPrinter())
    options: dict[str, Any] = {}
    routes: dict[str, View] = {}
    for name in filter(None, os.environ.get(PROVIDERS_ENV, "").split(",")):
        module = importlib.import_module(f"adapters.{name}.dev")
        routes.update(module.routes(target, options))
    max_body = int(os.environ.get(MAX_BODY_ENV, DEFAULT_MAX_BODY))
    return router(routes, flask_view(Server(target, max_body, **options)))


def _log_to(path: str | None, printer: DeliveryPrinter) -> None:
    """The printer, and the JSON lines to ``path``, before any pipeline configures logging."""
    logger.handlers.clear()
    logger.addHandler(printer)
    if path:
        json_lines = logging.FileHandler(path, mode="w", encoding="utf-8")
        json_lines.setFormatter(JsonFormatter())
        logger.addHandler(json_lines)
    logger.setLevel(os.environ.get("PORTABLE_LOG_LEVEL", "INFO").upper())
    logger.propagate = False


def _error(record: logging.LogRecord) -> str | None:
    error = getattr(record, "error", None)
    if error is None:
        return None
    kind = getattr(record, "error_type", None)
    return f"{kind}: {error}" if kind else str(error)


def _letter(record: logging.LogRecord) -> str | None:
    found = _LETTER.search(record.getMessage())
    return found.group(1) if found else None


_print_lock = threading.Lock()


def _stdout(line: str) -> None:
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
