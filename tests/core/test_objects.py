"""storage.open / read / write on local files (provider backends are tested per adapter)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from portable import ConfigurationError, storage
from portable._local import FolderWatcher


def test_read_the_object_an_event_announced_and_write_a_result(tmp_path: Path) -> None:
    watcher = FolderWatcher(tmp_path)
    (tmp_path / "in dir").mkdir()
    (tmp_path / "in dir" / "100% done.txt").write_bytes(b"hello")
    [event] = watcher.poll() + watcher.poll()
    obj = storage.object_event(event)
    assert storage.read(obj) == b"hello"
    with storage.open(obj) as stream:
        assert stream.read(2) == b"he"
    out = obj.url + ".manifest.json"
    storage.write(out, '{"ok": true}')
    assert (tmp_path / "in dir" / "100% done.txt.manifest.json").read_text() == '{"ok": true}'
    assert watcher.poll() + watcher.poll() != []  # the result is an object event of its own


def test_write_streams_and_is_atomic(tmp_path: Path) -> None:
    url = (tmp_path / "big.bin").as_uri()
    storage.write(url, io.BytesIO(b"x" * (3 * 1024 * 1024 + 7)))
    assert (tmp_path / "big.bin").stat().st_size == 3 * 1024 * 1024 + 7
    assert [p.name for p in tmp_path.iterdir()] == ["big.bin"]  # no partial file left


def test_unknown_scheme_and_remote_file_urls_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="unknown scheme"):
        storage.read("ftp://host/file")
    with pytest.raises(ConfigurationError, match="local path"):
        storage.read("file://otherhost/etc/passwd")
