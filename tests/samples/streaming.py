"""The memory check the object backends' tests share: a large object written with
``storage.write`` and read back with ``storage.open``, each in a child process that reports how
far its resident memory rose above where it stood once the SDK was loaded and warm: the
highest RSS a sampling thread saw (every 5 ms, /proc/self/statm) over the RSS at the start,
and, as a guard against a spike between samples, how far the peak RSS (``ru_maxrss``) rose.

Resident memory, not an address-space limit (RLIMIT_AS): the SDKs' thread pools and allocator
arenas reserve far more virtual memory than they touch, so a ceiling on it measures thread
counts, not whether the object was held. A rise well below the object's size proves that
neither direction held it whole.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

MiB = 1024 * 1024

CHILD = r"""
import hashlib, io, json, os, resource, sys, threading
from portable import storage

MiB = 1024 * 1024
mode, url, size = sys.argv[1], sys.argv[2], int(sys.argv[3])


class Pattern(io.RawIOBase):
    # ``size`` bytes made on the fly: 1 MiB blocks, each starting with its number.
    def __init__(self, size):
        self.left, self.number, self.pending = size, 0, memoryview(b"")

    def readable(self):
        return True

    def readinto(self, buffer):
        if not self.pending:
            if not self.left:
                return 0
            block = self.number.to_bytes(8, "big") + bytes(range(256)) * 4096
            self.pending = memoryview(block)[: min(MiB, self.left)]
            self.left -= len(self.pending)
            self.number += 1
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def resident():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Sampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.start_rss = self.top = resident()
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.005):
            self.top = max(self.top, resident())


storage.write(url + ".warm-up", b"warm up")  # the SDK imported, a client built and used
storage.read(url + ".warm-up")
base = peak()
sampler = Sampler()
sampler.start()
digest, count = hashlib.sha256(), 0
if mode == "write":
    storage.write(url, io.BufferedReader(Pattern(size), MiB))
    stream = io.BufferedReader(Pattern(size), MiB)  # what was written, made again
else:
    stream = storage.open(url)
with stream:
    while chunk := stream.read(MiB):
        digest.update(chunk)
        count += len(chunk)
sampler.done.set()
sampler.join()
print(json.dumps({"rise": sampler.top - sampler.start_rss, "peak_rise": peak() - base,
                  "bytes": count, "sha256": digest.hexdigest()}))
"""


@dataclass(frozen=True)
class Measured:
    rise: int
    """How far resident memory rose above the warm baseline, in bytes (the larger of the
    sampled and the peak measure)."""
    size: int
    sha256: str


def measure(mode: str, url: str, size: int, env: dict[str, str] | None = None) -> Measured:
    """Run ``storage.write`` (mode "write") or ``storage.open`` ("read") of ``url`` in a child."""
    done = subprocess.run([sys.executable, "-c", CHILD, mode, url, str(size)],
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return Measured(max(report["rise"], report["peak_rise"]), report["bytes"], report["sha256"])


def round_trip(url: str, size: int, env: dict[str, str] | None = None) -> tuple[int, int]:
    """Write then read ``size`` bytes at ``url``; the two rises of peak memory (bytes)."""
    written = measure("write", url, size, env)
    read = measure("read", url, size, env)
    assert (read.size, read.sha256) == (written.size, written.sha256) == (size, written.sha256)
    return written.rise, read.rise
