"""The upload pipeline sample on the local folder provider, through the pipeline."""

from __future__ import annotations

import json
from pathlib import Path

from portable import MemorySink, MemoryStore, Outcome, Pipeline
from portable._local import FolderWatcher
from samples.upload import app


def run_folder(tmp_path: Path, files: dict[str, bytes]) -> tuple[Pipeline, list[Outcome]]:
    watcher = FolderWatcher(tmp_path)
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    events = watcher.poll() + watcher.poll()
    pipeline = Pipeline(app, store=MemoryStore(), dlq=MemorySink(), retry=1)
    return pipeline, [pipeline.process(e).outcome for e in events + events]


def test_manifests_duplicates_and_bad_files(tmp_path: Path) -> None:
    pipeline, outcomes = run_folder(tmp_path, {"a.pdf": b"%PDF-1.7 body", "b.bin": b"",
                                               "notes": b"plain words"})
    assert outcomes.count(Outcome.PROCESSED) == 2
    assert outcomes.count(Outcome.DUPLICATE) == 2  # each good file delivered twice ran once
    assert outcomes.count(Outcome.DEAD_LETTERED) == 1 and outcomes.count(Outcome.SKIPPED) == 1
    manifest = json.loads((tmp_path / "a.pdf.manifest.json").read_text())
    assert manifest["content_type"] == "application/pdf" and manifest["size"] == 13
    assert json.loads((tmp_path / "notes.manifest.json").read_text())["content_type"] == (
        "application/octet-stream")
    [letter] = pipeline.sink.list()
    assert "is empty" in letter.error["message"]


def test_the_handler_ignores_its_own_manifests(tmp_path: Path) -> None:
    _, outcomes = run_folder(tmp_path, {"x.manifest.json": b"{}"})
    assert outcomes == [Outcome.PROCESSED, Outcome.DUPLICATE]
    assert not (tmp_path / "x.manifest.json.manifest.json").exists()
