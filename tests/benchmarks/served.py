"""Served throughput: ``portable serve`` against a bare ``@functions_framework.cloud_event``
function doing the same work (nothing), under the same load.

    python -m tests.benchmarks.served [--seconds S] [--rounds R] [--connections C]

Both run under functions-framework's own server (gunicorn, gthread workers) with the same
settings, pinned through the variables functions-framework reads: WORKERS=1, THREADS=8. The
load generator is in this process: ``connections`` threads, each with one keep-alive
connection, posting binary-mode CloudEvents (each with a new id, so ours claims and completes
every one) as fast as the answers come. Loopback only; each round stops after ``seconds`` or
``MAX_REQUESTS`` requests. Rounds alternate between the servers, and each server keeps the
median of its rounds (this VM's speed moves by a tenth from one round to the next; the best
round of three swung the verdict).
``portable serve`` runs with the memory store and sink (the peer keeps nothing either); for
reference, once more without its line per event (``PORTABLE_LOG_LEVEL=WARNING``: what the
line costs), and once with its local default, SQLite files.
"""

from __future__ import annotations

import itertools
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from portable._net import free_port, wait_for_port
from tests.benchmarks._table import Row, Target, run_alone

AT_LEAST = Target(0.85, compared=True, at_least=True)
"""Our requests/s over the peer's (issue 13)."""
SERVER_SETTINGS = {"WORKERS": "1", "THREADS": "8"}
MAX_REQUESTS = 100_000
BODY = b'{"order": 42, "items": ["a", "b"]}'
HANDLER = "def handle(event):\n    return None\n"
PEER = ("import functions_framework\n\n\n@functions_framework.cloud_event\n"
        "def main(event):\n    return None\n")


@dataclass
class Served:
    name: str
    port: int
    process: subprocess.Popen[bytes]


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PORTABLE_") and k not in ("PORT", "HOST")}
    return {**env, **SERVER_SETTINGS, **extra}


@contextmanager
def server(name: str, command: list[str], folder: Path, env: dict[str, str]) -> Iterator[Served]:
    """A server whose output goes through a pipe that another process drains, as a platform's
    log agent reads a function's output. (To a file, eight threads' appends queued on the
    file's lock and measured this VM's disk; drained by a thread of this process, the reader
    took the GIL from the load generator.) ``tail`` keeps the last lines for a failed start."""
    port = free_port()
    log_path = folder / f"{name}.log"
    with log_path.open("wb") as log:
        reader = subprocess.Popen(["tail", "-c", "20000"], stdin=subprocess.PIPE, stdout=log)
    assert reader.stdin is not None
    process = subprocess.Popen([*command, "--port", str(port)], cwd=folder, env=_env(env),
                               stdout=reader.stdin, stderr=subprocess.STDOUT)
    reader.stdin.close()  # the server holds the pipe's write end now
    try:
        if not wait_for_port(port, process):
            reader.wait(10)
            raise RuntimeError(f"{name} did not start: {log_path.read_text(errors='replace')}")
        yield Served(name, port, process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.wait(10)


def servers(folder: Path, stack: ExitStack) -> dict[str, Served]:
    (folder / "bench_handler.py").write_text(HANDLER)
    (folder / "bench_peer.py").write_text(PEER)
    python = sys.executable
    ours = [python, "-m", "portable", "serve", "bench_handler:handle", "--host", "127.0.0.1"]
    peer = [python, "-m", "functions_framework", "--source", str(folder / "bench_peer.py"),
            "--target", "main", "--signature-type", "cloudevent", "--host", "127.0.0.1"]
    memory = {"PORTABLE_STORE": "memory://", "PORTABLE_DLQ": "memory://"}
    quiet = {**memory, "PORTABLE_LOG_LEVEL": "WARNING"}
    sqlite = {"PORTABLE_STORE": f"sqlite:///{folder / 'idempotency.db'}",
              "PORTABLE_DLQ": f"sqlite:///{folder / 'dead-letters.db'}"}
    return {
        "peer": stack.enter_context(server("peer", peer, folder, {})),
        "memory": stack.enter_context(server("memory", ours, folder, memory)),
        "quiet": stack.enter_context(server("quiet", ours, folder, quiet)),
        "sqlite": stack.enter_context(server("sqlite", ours, folder, sqlite)),
    }


# -- the load generator ----------------------------------------------------------------------


def _request(port: int, event_id: str) -> bytes:
    head = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nce-specversion: 1.0\r\n"
            f"ce-id: {event_id}\r\nce-source: /bench\r\nce-type: com.example.bench\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n")
    return head.encode("ascii") + BODY


class _Client:
    """One keep-alive connection: send a request, read one whole response."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b""

    def exchange(self, request: bytes) -> int:
        """The response's status code (0 when the connection failed)."""
        try:
            if self.sock is None:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.buffer = b""
            self.sock.sendall(request)
            status, keep = self._response()
        except OSError:
            status, keep = 0, False
        if not keep:
            self.close()
        return status

    def _response(self) -> tuple[int, bool]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self._fill()
        self.buffer = self.buffer[length:]
        return int(lines[0].split()[1]), headers.get("connection", "").lower() != "close"

    def _fill(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("the server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None


def load(port: int, seconds: float, limit: int, connections: int, tag: str) -> tuple[float, int]:
    """(requests answered 200 per second, other answers) over one round."""
    numbers = itertools.count()
    ok = [0] * connections
    failed = [0] * connections
    clients = [_Client(port) for _ in range(connections)]
    deadline = time.perf_counter() + seconds

    def run(index: int) -> None:
        client = clients[index]
        while time.perf_counter() < deadline:
            number = next(numbers)
            if number >= limit:
                break
            if client.exchange(_request(port, f"{tag}-{number}")) == 200:
                ok[index] += 1
            else:
                failed[index] += 1
        client.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(ok) / (time.perf_counter() - started), sum(failed)


def rows(quick: bool = False, seconds: float = 1.5, rounds: int = 9,
         connections: int = 8) -> list[Row]:
    seconds, rounds, limit = (0.3, 1, 50) if quick else (seconds, rounds, MAX_REQUESTS)
    rates: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        served = servers(Path(folder), stack)
        for name, target in served.items():  # warm up: imports, connections, first claims
            load(target.port, min(seconds, 0.5), limit, connections, f"warm-{name}")
        for round_ in range(rounds):
            for name, target in served.items():
                rate, failed = load(target.port, seconds, limit, connections, f"{name}{round_}")
                rates.setdefault(name, []).append(rate)
                errors[name] = errors.get(name, 0) + failed
    median = {name: statistics.median(values) for name, values in rates.items()}
    notes = {name: f"{count} non-200 answers" if count else "" for name, count in errors.items()}
    settings = f"median of {rounds}, {connections} connections, WORKERS=1 THREADS=8"
    return [
        Row("served: portable serve, memory store (peer: functions-framework)", median["memory"],
            "req/s", median["peer"], AT_LEAST, note=notes["memory"] or settings),
        Row("served: portable serve, memory store, no log lines (peer: functions-framework)",
            median["quiet"], "req/s", median["peer"],
            note=notes["quiet"] or "PORTABLE_LOG_LEVEL=WARNING: what the line per event costs"),
        Row("served: portable serve, sqlite store (peer: functions-framework)", median["sqlite"],
            "req/s", median["peer"], note=notes["sqlite"] or "the local default, for reference"),
    ]



if __name__ == "__main__":
    run_alone(rows, "served throughput against functions-framework")
