"""The local provider: files in a watched folder become storage CloudEvents.

A new or changed file is ``portable.local.storage.object.created`` (as S3 and GCS report an
overwrite as a new object), a removed one ``portable.local.storage.object.deleted``. A file is
reported once its size and modification time have held still for one poll, so a file still
being written is not handed over half-done. Hidden files (``.name``) and the folder's own
bookkeeping are ignored.

The event: source ``file://<folder>``, subject the path relative to the folder (``/``
separated), data ``{"path": <absolute path>, "size": n, "etag": "<mtime_ns>-<size>"}``, id a hash
of folder, path, action and etag: the same change always has the same id.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cloudevents.http import CloudEvent

from ._events import content_id, new_event
from .storage import LOCAL_PREFIX

CREATED_TYPE = LOCAL_PREFIX + "created"
DELETED_TYPE = LOCAL_PREFIX + "deleted"


@dataclass(frozen=True)
class FileState:
    size: int
    mtime_ns: int

    @property
    def etag(self) -> str:
        return f"{self.mtime_ns:x}-{self.size:x}"


def scan(folder: Path) -> dict[str, FileState]:
    """Relative path -> state of every visible regular file under ``folder``."""
    found: dict[str, FileState] = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            path = Path(root) / name
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed while walking
                continue
            found[path.relative_to(folder).as_posix()] = FileState(stat.st_size, stat.st_mtime_ns)
    return found


def file_event(folder: Path, relative: str, state: FileState | None,
               previous: FileState | None = None) -> CloudEvent:
    """The CloudEvent of one change: ``state`` None means the file was removed."""
    source = f"file://{folder.as_posix()}"
    data: dict[str, object]
    if state is None:
        etag = previous.etag if previous else None
        attrs = {"type": DELETED_TYPE, "time": _iso(time.time())}
        data = {"path": str(folder / relative), "size": None, "etag": etag}
    else:
        etag = state.etag
        attrs = {"type": CREATED_TYPE, "time": _iso(state.mtime_ns / 1e9)}
        data = {"path": str(folder / relative), "size": state.size, "etag": etag}
    attrs.update(source=source, subject=relative, datacontenttype="application/json",
                 id=content_id(source, relative, attrs["type"], etag))
    return new_event(attrs, data)


class FolderWatcher:
    """Polls a folder; :meth:`poll` returns the CloudEvents of the changes that settled."""

    def __init__(self, folder: str | os.PathLike[str], *, report_existing: bool = False) -> None:
        self.folder = Path(folder).resolve()
        if not self.folder.is_dir():
            raise FileNotFoundError(f"no folder {self.folder} to watch")
        self._reported: dict[str, FileState] = {} if report_existing else scan(self.folder)
        self._pending: dict[str, FileState | None] = {}

    def poll(self) -> list[CloudEvent]:
        current = scan(self.folder)
        changed: dict[str, FileState | None] = {
            path: state for path, state in current.items() if self._reported.get(path) != state
        }
        changed.update({path: None for path in self._reported if path not in current})
        events = []
        for path, state in sorted(changed.items()):
            if path in self._pending and self._pending[path] == state:  # held still: report
                events.append(file_event(self.folder, path, state, self._reported.get(path)))
                if state is None:
                    self._reported.pop(path, None)
                else:
                    self._reported[path] = state
        self._pending = {p: s for p, s in changed.items()
                         if not (p in self._pending and self._pending[p] == s)}
        return events


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")
