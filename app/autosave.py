"""Crash safety: the working document is written to the data folder shortly after each change.

The write is debounced (a burst of strokes costs one save), done on a worker thread from a
snapshot (the image array is immutable, the mask is copied), and atomic: a temporary file is
renamed over the old autosave, so a crash mid-write never leaves a half file. A clean exit
deletes it; its presence at start-up means the last session did not end cleanly.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from app.state.document import Document
from app.state.history import SavedHistory, capture

log = logging.getLogger(__name__)

FILE_NAME = "autosave.npz"
DEFAULT_DELAY_MS = 3000


@dataclass(frozen=True)
class Recovered:
    image: np.ndarray
    mask: np.ndarray
    source_path: str | None
    save_path: str | None
    history: SavedHistory

    @property
    def description(self) -> str:
        name = Path(self.save_path or self.source_path or "untitled").name
        h, w = self.image.shape[:2]
        return f"'{name}' ({w} × {h})"


def autosave_path(folder: Path) -> Path:
    return Path(folder) / FILE_NAME


def write_atomically(
    path: Path, image: np.ndarray, mask: np.ndarray, meta: dict, history: SavedHistory
) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    meta = {**meta, "history": history.meta}
    try:
        with open(temp, "wb") as handle:
            np.savez(
                handle, image=image, mask=mask, meta=np.array(json.dumps(meta)), **history.arrays
            )
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def read_autosave(folder: Path) -> Recovered | None:
    """The autosave left by an unclean exit, or None (a damaged file counts as none)."""
    path = autosave_path(folder)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {name: data[name] for name in data.files if name.startswith("h")}
            history = SavedHistory(meta.get("history") or {"index": 0, "commands": []}, arrays)
            return Recovered(
                data["image"].copy(),
                data["mask"].astype(bool),
                meta.get("source"),
                meta.get("saved"),
                history,
            )
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring unreadable autosave %s: %s", path, exc)
        return None


class Autosaver(QObject):
    written = Signal()
    failed = Signal(str)

    def __init__(self, document: Document, folder: Path, delay_ms: int = DEFAULT_DELAY_MS):
        super().__init__(document)
        self._doc = document
        self.path = autosave_path(folder)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # writes stay in order
        self._timer = QTimer(self, singleShot=True, interval=delay_ms)
        self._timer.timeout.connect(self.save_now)
        document.changed.connect(self._on_changed)

    def _on_changed(self) -> None:
        if not self._doc.has_image:
            return
        if self._doc.is_modified:
            self._timer.start()
        else:  # saved (or undone back to the saved state): nothing to recover any more
            self._timer.stop()
            self._pool.start(lambda: self.path.unlink(missing_ok=True))

    def save_now(self) -> None:
        doc = self._doc
        if doc.image is None or doc.mask is None:
            return
        meta = {
            "source": str(doc.source_path) if doc.source_path else None,
            "saved": str(doc.save_path) if doc.save_path else None,
        }
        image, mask, path = doc.image, doc.mask.copy(), self.path
        history = capture(doc)

        def write() -> None:
            try:
                write_atomically(path, image, mask, meta, history)
            except OSError as exc:
                log.warning("autosave failed: %s", exc)
                self.failed.emit(str(exc))
            else:
                self.written.emit()

        self._pool.start(write)

    def discard(self) -> None:
        """Clean exit: stop pending writes and delete the autosave."""
        self._timer.stop()
        self._pool.waitForDone(10_000)
        self.path.unlink(missing_ok=True)

    def wait(self, msecs: int = 10_000) -> bool:
        return self._pool.waitForDone(msecs)
