"""``portable dev``: a served handler wired to live event sources on this machine.

The handler runs under functions-framework in a child process (portable._dev_router), behind
the same entry each platform calls; each source turns what happens in an emulator or a folder
into that platform's delivery, and every delivery is printed as it happens (provider, type,
subject, outcome, attempt). Ctrl-C (SIGINT) or SIGTERM stops everything this command started.

Sources (any combination):

* ``--folder PATH``: the local provider (portable._local), files dropped in, changed or removed;
* ``--aws``, ``--azure``, ``--gcp``: the emulators and the wiring of adapters.<provider>.dev.
  An emulator is started on free loopback ports unless the environment already names a
  running one (AWS_ENDPOINT_URL, AzureWebJobsStorage, PUBSUB_EMULATOR_HOST,
  STORAGE_EMULATOR_HOST).

Idempotency: unless PORTABLE_STORE is set, a SQLite file of this run
(``.portable/dev/idempotency.db``, emptied at start): the emulators start empty and reuse
their ids (the Pub/Sub emulator numbers messages from 1), so a store remembering the last run
would take new events for duplicates. Dead letters: PORTABLE_DLQ, else the usual local file
``.portable/dead-letters.db``, kept across runs for ``portable dlq``. Logs: ``.portable/dev/``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import shlex
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, Protocol

from ._config import DEFAULT_DLQ, DLQ_ENV, STORE_ENV
from ._dev_router import ENTRY_NAME, LOG_ENV, PROVIDERS_ENV
from ._emulators import EmulatorError, Process, Running, launch, ready, stop
from ._errors import missing_extra
from ._events import to_json
from ._local import FolderWatcher
from ._net import free_port
from ._serve import TARGET_ENV, load_target

Echo = Callable[[str], Any]

LOG_DIR = Path(".portable/dev")
DEV_STORE = "sqlite:///.portable/dev/idempotency.db"
SERVED_SOURCE = os.path.join(os.path.dirname(__file__), "_dev_served.py")
ERROR_PAUSE = 2.0
JOIN_TIMEOUT = 5.0


class Source(Protocol):
    """One event source of ``portable dev`` (adapters.<provider>.dev.Source, FolderSource)."""

    name: str

    def processes(self) -> list[Process]:
        """Emulators to start (none when the environment names running ones)."""

    def settings(self) -> dict[str, str]:
        """Once they run: the settings that reach them (for the handler and a user's shell)."""

    def wire(self, served: str) -> list[str]:
        """Create the resources and connect them to the handler served at ``served``; the
        lines that tell the user what was created."""

    def poll(self) -> None:
        """One round of the platform's stand-in (scanner, poller); each delivery prints."""

    def close(self) -> None: ...


class Stop(Exception):
    """SIGINT/SIGTERM arrived."""


class _Signals:
    """The first SIGINT/SIGTERM asks to stop at the next check; a second one stops at once."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.name = ""

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.event.is_set():
            raise Stop(self.name)
        self.name = signal.Signals(signum).name
        self.event.set()

    def check(self) -> None:
        if self.event.is_set():
            raise Stop(self.name)


class FolderSource:
    """The local provider: a watched folder, delivered to ``portable serve``'s endpoint."""

    name = "local"

    def __init__(self, folder: str) -> None:
        self.watcher = FolderWatcher(folder)
        self.url = ""

    def processes(self) -> list[Process]:
        return []

    def settings(self) -> dict[str, str]:
        return {}

    def wire(self, served: str) -> list[str]:
        self.url = served + "/"
        return [f"local  watching {self.watcher.folder}: new, changed and removed files"]

    def poll(self) -> None:
        for event in self.watcher.poll():
            post(self.url, to_json(event).encode("utf-8"),
                 {"Content-Type": "application/cloudevents+json"})

    def close(self) -> None:
        pass


def post(url: str, body: bytes, headers: Mapping[str, str],
         timeout: float = 120.0) -> tuple[int, Any]:
    """POST to the served handler: (status, parsed JSON body or None). A non-2xx answer is
    returned, not raised (the handler's server printed what happened); a connection failure
    raises OSError."""
    request = urllib.request.Request(url, data=body, method="POST", headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), _json(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), _json(exc.read())


def require_extra(extra: str, module: str) -> None:
    """A source's SDK, or ConfigurationError naming the extra that installs it."""
    if importlib.util.find_spec(module) is None:
        raise missing_extra(extra, module)


def sources_for(providers: Sequence[str], folder: str | None) -> list[Source]:
    """The sources asked for; adapters are loaded by name (portable imports none)."""
    found: list[Source] = []
    for name in providers:
        try:
            module = importlib.import_module(f"adapters.{name}.dev")
        except ImportError as exc:
            raise missing_extra(name, exc.name or name) from exc
        found.append(module.Source())
    if folder is not None:
        found.append(FolderSource(folder))
    return found


def run(target: str, *, providers: Sequence[str] = (), folder: str | None = None,
        port: int | None = None, interval: float = 0.5, echo: Echo = print) -> int:
    """Run until SIGINT/SIGTERM; 0 when stopped so, 1 when something could not start or
    died. Raises ConfigurationError for a bad target or a missing extra."""
    load_target(target)  # fail here, with a clear message, before anything starts
    sources = sources_for(providers, folder)
    processes = [process for source in sources for process in source.processes()]
    missing = [reason for process in processes if (reason := process.missing())]
    if missing:
        for reason in missing:
            echo(f"cannot start {reason}")
        return 1
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    signals = _Signals()
    previous = {sig: signal.signal(sig, signals) for sig in (signal.SIGINT, signal.SIGTERM)}
    started: list[Running] = []
    pollers: list[_Poller] = []
    try:
        _start(processes, started, signals, echo)
        given = dict(os.environ)
        reused = {source.name: [name for name, value in source.settings().items()
                                if given.get(name) == value] for source in sources}
        for source in sources:
            os.environ.update(source.settings())
        store = _dev_store()
        port = port or free_port()
        served = Process("handler", _served_command(port), (port,), log=False, env={
            TARGET_ENV: target, PROVIDERS_ENV: ",".join(providers),
            LOG_ENV: str(LOG_DIR / "handler.jsonl")})
        echo(f"serving {target} under functions-framework on http://127.0.0.1:{port} ...")
        started.append(launch(served, LOG_DIR))
        ready(started[-1], tick=signals.check)
        for source in sources:
            _wire(source, f"http://127.0.0.1:{port}", reused[source.name], echo)
        _describe(sources, reused, store, echo)
        pollers = [_Poller(source, interval, echo, signals.event) for source in sources]
        for poller in pollers:
            poller.start()
        echo("ready: every delivery is printed below; Ctrl-C stops")
        _watch(started, signals)
    except Stop as stopped:
        echo(f"{stopped}: stopping")
        return 0
    except EmulatorError as exc:
        echo(str(exc))
        return 1
    finally:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        _shut_down(pollers, sources, started, signals.event)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _start(processes: list[Process], started: list[Running], signals: _Signals,
           echo: Echo) -> None:
    """Launch every emulator at once, then wait for each, printing progress."""
    if not processes:
        return
    echo(f"starting {', '.join(process.name for process in processes)} ...")
    for process in processes:
        signals.check()
        started.append(launch(process, LOG_DIR))
    for running in list(started):
        seconds = ready(running, tick=signals.check)
        echo(f"  {running.spec.name} ready ({seconds:.1f} s)")


def _wire(source: Source, served: str, reused: list[str], echo: Echo) -> None:
    try:
        lines = source.wire(served)
    except Exception as exc:  # noqa: BLE001 - any SDK's error, said in one line
        given = f" (with {', '.join(reused)} from the environment)" if reused else ""
        raise EmulatorError(f"{source.name}: could not create its resources{given}: "
                            f"{type(exc).__name__}: {exc}") from exc
    for line in lines:
        echo(line)


def _dev_store() -> str:
    """PORTABLE_STORE, else this run's own SQLite file (see the module docstring)."""
    if os.environ.get(STORE_ENV):
        return f"{os.environ[STORE_ENV]} (PORTABLE_STORE)"
    path = Path(DEV_STORE.removeprefix("sqlite:///"))
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    os.environ[STORE_ENV] = DEV_STORE
    return f"{DEV_STORE}, new for this run (set PORTABLE_STORE to choose)"


def _served_command(port: int) -> list[str]:
    return [sys.executable, "-m", "functions_framework", "--source", SERVED_SOURCE,
            "--target", ENTRY_NAME, "--signature-type", "http", "--host", "127.0.0.1",
            "--port", str(port)]


def _describe(sources: list[Source], reused: Mapping[str, list[str]], store: str,
              echo: Echo) -> None:
    """What a user needs: the settings to reach the emulators (those this command chose; a
    setting taken from the environment is named, not repeated: it may hold a key), and where
    results land."""
    for source in sources:
        settings = {name: value for name, value in source.settings().items()
                    if name not in reused[source.name]}
        if reused[source.name]:
            echo(f"{source.name:<6} using {', '.join(reused[source.name])} from the environment")
        if settings:
            exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in settings.items())
            echo(f"{source.name:<6} export {exports}")
    dlq = os.environ.get(DLQ_ENV)
    echo(f"dead letters: {f'{dlq} (PORTABLE_DLQ)' if dlq else DEFAULT_DLQ}; "
         "`portable dlq list` shows them")
    echo(f"idempotency: {store}")
    echo(f"logs: {LOG_DIR}/ (handler.jsonl: the JSON log lines; one file per emulator)")


def _watch(started: list[Running], signals: _Signals) -> NoReturn:
    """Until a signal: stop with an error if anything this command started dies."""
    while True:
        signals.check()
        for running in started:
            if not running.alive():
                raise running.failure(f"exited with {running.proc.returncode}")
        time.sleep(0.2)


def _shut_down(pollers: list[_Poller], sources: list[Source], started: list[Running],
               stopping: threading.Event) -> None:
    stopping.set()
    for poller in pollers:
        poller.join(JOIN_TIMEOUT)
    for source in sources:
        with contextlib.suppress(Exception):
            source.close()
    for running in reversed(started):
        stop(running)


class _Poller(threading.Thread):
    """Runs one source's ``poll`` until told to stop; errors are printed, not fatal."""

    def __init__(self, source: Source, interval: float, echo: Echo,
                 stopping: threading.Event) -> None:
        super().__init__(name=f"portable-dev-{source.name}", daemon=True)
        self.source, self.interval, self.echo, self.stopping = source, interval, echo, stopping

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.source.poll()
            except Exception as exc:  # noqa: BLE001 - an emulator hiccup must not end the loop
                if self.stopping.is_set():
                    return
                self.echo(f"{self.source.name}: {type(exc).__name__}: {exc}")
                self.stopping.wait(ERROR_PAUSE)
            self.stopping.wait(self.interval)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None
