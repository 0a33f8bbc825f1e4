"""Crash safety: the working document is written to the data folder shortly after each change.

Two files, so that a brush stroke on a 12 MP photo writes kilobytes rather than the photo:
- the *base* (``autosave-base.npz``): image and mask at the bottom of the saved undo history
  (the state just before its oldest kept command) and a fresh token. It is rewritten only when
  that state changes: a new document (load, new, restore), or the oldest kept command is no
  longer the same one (undone below and branched, or trimmed by the history budget, see
  ``history.capture``). Edits that bypass the undo stack only happen through ``load``.
- the *delta* (``autosave.npz``): the undo history (changed boxes only), the token of its base
  and CRC-32s of the current image and mask. It is written after its base, so a crash between
  the two leaves a delta naming the previous token, which the new base refuses.

Writes are debounced (a burst of strokes costs one save), done on one worker thread from a
snapshot (the image array is immutable, the mask is copied), and atomic (a temporary file is
renamed over the old one). A clean exit deletes both, delta first; the delta's presence at
start-up means the last session did not end cleanly.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
import weakref
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from app.state.document import Document
from app.state.history import (
    EMPTY,
    HISTORY_BUDGET_BYTES,
    Anchor,
    SavedHistory,
    capture,
    replay,
    walk_back,
)

log = logging.getLogger(__name__)

FILE_NAME = "autosave.npz"
BASE_NAME = "autosave-base.npz"
DEFAULT_DELAY_MS = 3000
_UNREADABLE = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile)


@dataclass(frozen=True)
class Recovered:
    image: np.ndarray
    mask: np.ndarray
    source_path: str | None
    save_path: str | None
    history: SavedHistory
    problem: str | None = None  # why less than the last saved state came back

    @property
    def description(self) -> str:
        name = Path(self.save_path or self.source_path or "untitled").name
        h, w = self.image.shape[:2]
        problem = f" — {self.problem}" if self.problem else ""
        return f"'{name}' ({w} × {h}){problem}"


def autosave_path(folder: Path) -> Path:
    return Path(folder) / FILE_NAME


def base_path(folder: Path) -> Path:
    return Path(folder) / BASE_NAME


def write_npz_atomically(path: Path, **arrays: np.ndarray) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(temp, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    """Make a rename durable before the next one (POSIX; elsewhere the order is best effort)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def checksum(array: np.ndarray) -> int:
    """CRC-32 of an array's shape, type and bytes: cheap, and zlib lets go of the GIL."""
    array = np.ascontiguousarray(array)
    head = zlib.crc32(f"{array.shape}{array.dtype.str}".encode())
    return zlib.crc32(array.reshape(-1).view(np.uint8), head)


def _meta(**fields) -> np.ndarray:
    return np.array(json.dumps(fields))


@dataclass(frozen=True)
class SaveJob:
    """One autosave, snapshotted on the GUI thread."""

    image: np.ndarray  # the document's own array (never edited in place)
    mask: np.ndarray  # a copy: strokes paint the document's mask in place
    meta: dict  # source and save paths
    saved: SavedHistory
    generation: int  # which document (each load starts a new one)
    anchor: Anchor  # which state of it the history's base is

    def same_base(self, key: tuple[int, Anchor] | None) -> bool:
        return key is not None and key[0] == self.generation and self.anchor.same(key[1])


class AutosaveFiles:
    """The base and the delta on disk; used from the one worker thread only."""

    def __init__(self, folder: Path):
        self.delta, self.base = autosave_path(folder), base_path(folder)
        self._base_of: tuple[int, Anchor] | None = None  # what the base on disk is
        self._token = ""
        self._image_crc: tuple[weakref.ref, int] | None = None  # arrays are immutable: reuse

    def write(self, job: SaveJob) -> int:
        """The base if it changed, then the delta; returns the bytes written."""
        written = 0 if job.same_base(self._base_of) else self._write_base(job)
        if self._image_crc is None or self._image_crc[0]() is not job.image:
            self._image_crc = (weakref.ref(job.image), checksum(job.image))
        meta = _meta(
            **job.meta,
            base=self._token,
            history=job.saved.meta,
            image_crc=self._image_crc[1],
            mask_crc=checksum(job.mask),
        )
        write_npz_atomically(self.delta, meta=meta, **job.saved.arrays)
        return written + self.delta.stat().st_size

    def _write_base(self, job: SaveJob) -> int:
        self._base_of = None  # unknown until the new one is safely down
        index = int(job.saved.meta["index"])
        image, mask = walk_back(job.image, job.mask, job.saved, index)
        token = uuid.uuid4().hex
        write_npz_atomically(self.base, image=image, mask=mask, meta=_meta(**job.meta, token=token))
        _sync_folder(self.base.parent)
        self._base_of, self._token = (job.generation, job.anchor), token
        return self.base.stat().st_size

    def delete(self) -> None:
        self.delta.unlink(missing_ok=True)  # first: a base without its delta is never offered
        self.base.unlink(missing_ok=True)
        self._base_of = None


def read_autosave(folder: Path) -> Recovered | None:
    """The autosave left by an unclean exit, or None. The newest state that can be proven:

    1. the delta's state with its undo history: its base (same token) replayed through the
       history lands on the delta's CRC-32s;
    2. else the base alone, without history, when it is intact (the zip's own CRCs) but the
       delta does not stand on it (a crash between writing a new base and its delta, or a
       history that does not replay). The base was a real state, written whole; nothing
       later than it can be proven;
    3. else None, with a log line: no base, or files that cannot be read.
    A single-file autosave from before the split (an ``image`` inside) restores as it is.
    """
    path = autosave_path(folder)
    if not path.is_file():
        return None
    try:
        return _read(Path(folder))
    except _UNREADABLE as exc:
        log.warning("ignoring unreadable autosave %s: %s", path, exc)
        return None


def _read(folder: Path) -> Recovered:
    with np.load(autosave_path(folder), allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        arrays = {name: data[name] for name in data.files if name.startswith("h")}
        history = SavedHistory(meta.get("history") or EMPTY.meta, arrays)
        source, saved = meta.get("source"), meta.get("saved")
        if "image" in data.files:  # a single-file autosave
            return Recovered(data["image"], data["mask"].astype(bool), source, saved, history)
    with np.load(base_path(folder), allow_pickle=False) as data:
        base_meta = json.loads(str(data["meta"]))
        image, mask = data["image"], data["mask"].astype(bool)
    earlier = "an earlier state: its undo history could not be used"
    base = Recovered(image, mask, base_meta.get("source"), base_meta.get("saved"), EMPTY, earlier)
    if base_meta.get("token") != meta.get("base"):
        log.warning("autosave %s is not the one of its base; restoring the base", folder)
        return base
    try:
        image, mask = replay(image, mask, history, int(history.meta["index"]))
        if checksum(image) == meta["image_crc"] and checksum(mask) == meta["mask_crc"]:
            return Recovered(image, mask, source, saved, history)
    except (KeyError, ValueError, TypeError, IndexError):
        pass
    log.warning(
        "autosave %s: its history does not replay onto its base; restoring the base", folder
    )
    return base


class Autosaver(QObject):
    written = Signal()
    failed = Signal(str)

    def __init__(
        self,
        document: Document,
        folder: Path,
        delay_ms: int = DEFAULT_DELAY_MS,
        budget: int = HISTORY_BUDGET_BYTES,
    ):
        super().__init__(document)
        self._doc, self._budget = document, budget
        self.files = AutosaveFiles(folder)
        self.path = self.files.delta
        self._generation, self._bottom = 0, None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # writes stay in order; ``files`` has one user
        self._timer = QTimer(self, singleShot=True, interval=delay_ms)
        self._timer.timeout.connect(self.save_now)
        document.changed.connect(self._on_changed)
        document.opened.connect(self._on_opened)

    def _on_opened(self) -> None:
        self._generation += 1  # a new document: a new base, whatever its commands are
        self._bottom = None

    def _on_changed(self) -> None:
        if not self._doc.has_image:
            return
        if self._doc.is_modified:
            self._timer.start()
        else:  # saved (or undone back to the saved state): nothing to recover any more
            self._timer.stop()
            self._pool.start(self.files.delete)

    def snapshot(self) -> SaveJob | None:
        """What the worker will write: references, the history's boxes and a mask copy."""
        doc = self._doc
        if doc.image is None or doc.mask is None:
            return None
        if doc.stroke_active:  # its pixels are in no command yet: save once it has ended
            self._timer.start()
            return None
        captured = capture(doc, self._budget, self._bottom)
        self._bottom = captured.bottom
        meta = {
            "source": str(doc.source_path) if doc.source_path else None,
            "saved": str(doc.save_path) if doc.save_path else None,
        }
        mask = doc.mask.copy()
        return SaveJob(doc.image, mask, meta, captured.saved, self._generation, captured.anchor)

    def save_now(self) -> None:
        job = self.snapshot()
        if job is None:
            return

        def write() -> None:
            try:
                self.files.write(job)
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
        self.files.delete()

    def wait(self, msecs: int = 10_000) -> bool:
        return self._pool.waitForDone(msecs)
