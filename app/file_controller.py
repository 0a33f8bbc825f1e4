"""Open, save, export, recent files and the unsaved-changes question.

Rule: the original file is never overwritten silently. "Save" on a freshly opened photo is
"Save As" with ``name_edited.png`` suggested; writing over the original needs an explicit yes.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from app import engine_access
from app.engine_access import UserFacingError
from app.image_io import ImageIO
from app.prompts import Prompts
from app.settings import AppSettings
from app.state.document import Document

EXPORT_INDEX = -1  # a save that does not change the document's own file


class FileController(QObject):
    status_message = Signal(str)
    document_opened = Signal(str)
    recent_changed = Signal()
    activity_changed = Signal(str)  # what is being read or written ("Opening x.jpg…"), or ""
    display_ready = Signal(object, object)  # pixels, their QImage: emitted just before loading

    def __init__(
        self,
        window: QWidget,
        document: Document,
        prompts: Prompts,
        settings: AppSettings,
        io: ImageIO | None = None,
    ):
        super().__init__(window)
        self._window, self._doc, self._prompts, self._settings = window, document, prompts, settings
        self.io = io or ImageIO(self)
        self.io.loaded.connect(self._on_loaded)
        self.io.saved.connect(self._on_saved)
        self.io.failed.connect(self._on_failed)
        self.loading: str | None = None
        self._pending: dict[str, str] = {}  # path -> what is happening to it, oldest first

    # -- opening --------------------------------------------------------------------------------

    def open_dialog(self) -> None:
        if not self.confirm_discard():
            return
        path = self._prompts.open_path(self._window, self._settings.last_folder())
        if path:
            self._start_load(path)

    def open_path(self, path: str | Path, ask: bool = True) -> None:
        """Open a file (drag-and-drop, recent files, command line)."""
        if ask and not self.confirm_discard():
            return
        self._start_load(str(path))

    def open_sample(self) -> None:
        """The bundled sample photo, so a first run has something to paint on."""
        self.open_path(engine_access.sample_photo())

    def open_generated(self, image: np.ndarray, title: str) -> bool:
        """A generated picture as a new, unsaved document (after Save/Discard/Cancel for the
        current one); the photo's file is never touched. False when the user cancelled."""
        if not self.confirm_discard():
            return False
        self.loading = None  # a slower open must not replace it afterwards
        self._doc.load(np.ascontiguousarray(image), modified=True, title=title)
        return True

    def _start_load(self, path: str) -> None:
        self.loading = path
        self._begin(path, f"Opening {Path(path).name}…")
        self.io.load(path)

    def _begin(self, path: str, what: str) -> None:
        self._pending[path] = what
        self.status_message.emit(what)
        self.activity_changed.emit(what)

    def _end(self, path: str) -> None:
        self._pending.pop(path, None)
        self.activity_changed.emit(next(reversed(self._pending.values()), ""))

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def _on_loaded(self, path: str, picture: engine_access.Picture, display) -> None:
        self._end(path)
        if path != self.loading:
            return  # superseded by a later open
        self.loading = None
        self.display_ready.emit(picture.pixels, display)
        self._doc.load(picture.pixels, Path(path), picture.icc_profile, picture.exif)
        self._settings.add_recent_file(path)
        self._settings.set_last_folder(Path(path).parent)
        self.recent_changed.emit()
        h, w = picture.pixels.shape[:2]
        notes = " ".join(picture.notes)
        self.status_message.emit(f"Opened {Path(path).name} ({w} × {h}). {notes}".strip())
        self.document_opened.emit(path)

    # -- saving ---------------------------------------------------------------------------------

    def suggested_path(self, suffix: str = ".png", tag: str = "_edited") -> Path:
        doc = self._doc
        if doc.save_path is not None and tag == "_edited":
            return doc.save_path.with_suffix(suffix)
        if doc.source_path is not None:
            return doc.source_path.with_name(f"{doc.source_path.stem}{tag}{suffix}")
        stem = re.sub(r"[^\w-]+", "_", doc.title).strip("_").lower() if doc.title else "untitled"
        return Path(self._settings.last_folder()) / f"{stem}{tag}{suffix}"

    def save(self) -> None:
        """Overwrite only a file we wrote ourselves; otherwise ask where (Save As)."""
        if not self._doc.has_image:
            return
        if self._doc.save_path is not None:
            self._write(self._doc.save_path, self._doc.undo_stack.index())
        else:
            self.save_as()

    def save_as(self) -> None:
        path = self._ask_target(self.suggested_path())
        if path is not None:
            self._write(path, self._doc.undo_stack.index())

    def export(self) -> None:
        if not self._doc.has_image:
            return
        choice = self._prompts.export(self._window, str(self.suggested_path(".png", "_export")))
        if choice is None or not choice.path:
            return
        path = Path(choice.path)
        if self._is_original(path) and not self._prompts.overwrite_original(self._window, path):
            return
        self._write(path, EXPORT_INDEX, quality=choice.quality)

    def _ask_target(self, suggested: Path) -> Path | None:
        answer = self._prompts.save_path(self._window, str(suggested))
        if not answer:
            return None
        path = Path(answer)
        if not path.suffix:
            path = path.with_suffix(".png")
        if self._is_original(path) and not self._prompts.overwrite_original(self._window, path):
            return None
        return path

    def _is_original(self, path: Path) -> bool:
        source = self._doc.source_path
        return source is not None and path.resolve() == source.resolve()

    def _write(self, path: Path, index: int, quality: int = 95) -> None:
        doc = self._doc
        self._begin(str(path), f"Saving {path.name}…")
        self.io.save(
            doc.image, path, index, doc.icc_profile, doc.exif, quality, True, self._guard(path)
        )

    def _guard(self, path: Path) -> Path | None:
        """The file the writer must refuse to replace: the original, unless the user said yes
        (``_ask_target``/``export`` only reach a write to the original after asking)."""
        return None if self._is_original(path) else self._doc.source_path

    def _on_saved(self, path: str, index: int) -> None:
        self._end(path)
        if index != EXPORT_INDEX:
            self._doc.mark_saved(Path(path), index)
            self._settings.add_recent_file(path)
            self.recent_changed.emit()
        self.status_message.emit(f"Saved {Path(path).name}.")

    def _on_failed(self, path: str, message: str) -> None:
        self._end(path)
        if path == self.loading:
            self.loading = None
        self.status_message.emit(message)
        self._prompts.error(self._window, message)

    # -- closing --------------------------------------------------------------------------------

    def confirm_discard(self) -> bool:
        """Before closing or replacing the document: Save / Discard / Cancel."""
        if not self._doc.is_modified:
            return True
        answer = self._prompts.unsaved_changes(self._window, self._doc.display_name)
        if answer == "discard":
            return True
        if answer == "save":
            return self._save_now()
        return False

    def _save_now(self) -> bool:
        """Blocking save for the close path: the window must not go away before it is done."""
        doc = self._doc
        path = doc.save_path or self._ask_target(self.suggested_path())
        if path is None:
            return False
        try:
            engine_access.save_image(
                doc.image, path, doc.icc_profile, doc.exif, 95, True, self._guard(path)
            )
        except UserFacingError as exc:
            self._prompts.error(self._window, str(exc))
            return False
        doc.mark_saved(path)
        self._settings.add_recent_file(path)
        return True

    # -- masks ------------------------------------------------------------------------------------

    def save_mask(self) -> None:
        if self._doc.mask is None:
            return
        suggested = self.suggested_path(".png", "_mask")
        answer = self._prompts.save_path(self._window, str(suggested), "Save mask")
        if not answer:
            return
        try:
            engine_access.save_mask(self._doc.mask, answer)
        except UserFacingError as exc:
            self._prompts.error(self._window, str(exc))
            return
        self.status_message.emit(f"Saved the mask to {Path(answer).name}.")

    def load_mask(self) -> None:
        if self._doc.mask is None:
            return
        path = self._prompts.mask_open_path(self._window, self._settings.last_folder())
        if not path:
            return
        try:
            mask = engine_access.load_mask(path, self._doc.mask.shape)
        except UserFacingError as exc:
            self._prompts.error(self._window, str(exc))
            return
        self._doc.set_mask(mask)
        self.status_message.emit(f"Loaded the mask from {Path(path).name}.")
