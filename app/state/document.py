"""The working document: image + boolean mask + undo stack.

The image array is treated as immutable: edits replace it with a new array, so a snapshot taken
for a job (or for the autosave thread) can never change under its reader. The mask is edited in
place for speed; every edit is recorded as the changed box before/after, never a whole mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QUndoCommand, QUndoStack

from app.state.mask_paint import Box, fill_polygon, fill_rect, nonzero_box, paint_segment


class MaskEdit(QUndoCommand):
    """One mask edit: the box and its pixels before and after."""

    kind = "mask"

    def __init__(self, doc: Document, box: Box, before: np.ndarray, after: np.ndarray, text: str):
        super().__init__(text)
        self._doc, self.box, self.before, self.after = doc, box, before, after

    def redo(self) -> None:
        self._doc._write_mask(self.box, self.after)

    def undo(self) -> None:
        self._doc._write_mask(self.box, self.before)


class ImageEdit(QUndoCommand):
    """Replacing the image (applying a result). Same size: only the changed box is kept.

    ``before``/``after`` are ``(image, mask)`` pairs: box-sized when ``box`` is set, whole
    arrays when the size changed (out-painting).
    """

    kind = "image"

    def __init__(self, doc: Document, box: Box | None, before: tuple, after: tuple, text: str):
        super().__init__(text)
        self._doc, self.box, self.before, self.after = doc, box, before, after

    @classmethod
    def between(
        cls,
        doc: Document,
        image: np.ndarray,
        mask: np.ndarray,
        text: str,
        within: Box | None = None,
    ) -> ImageEdit:
        """The edit from the document's current image and mask to ``image`` and ``mask``.

        ``within``: the caller knows nothing outside this box differs (a result's window), so
        only the box is compared, the cost of a small edit on a large photo.
        """
        old_image, old_mask = doc.image, doc.mask
        if old_image is not None and old_image.shape == image.shape:
            area = within or Box.full(image.shape)
            new_px, old_px = image[area.slices], old_image[area.slices]
            changed = np.any(old_px != new_px, axis=-1) if image.ndim == 3 else old_px != new_px
            local = nonzero_box(changed | (old_mask[area.slices] != mask[area.slices]))
            box = Box(0, 0, 0, 0) if local is None else _shift(local, area)
            before = (old_image[box.slices].copy(), old_mask[box.slices].copy())
            after = (image[box.slices].copy(), mask[box.slices].copy())
            edit = cls(doc, box, before, after, text)
            edit._first = (image, mask)  # the caller's new arrays: the first redo takes them
            return edit
        before = (old_image, None if old_mask is None else old_mask.copy())
        return cls(doc, None, before, (image, mask.copy()), text)

    _first: tuple[np.ndarray, np.ndarray] | None = None

    def _apply(self, state: tuple[np.ndarray | None, np.ndarray | None]) -> None:
        if self.box is None:
            self._doc._replace(state[0], state[1])
            return
        if state is self.after and self._first is not None:  # no 12 MP copy to apply a fill
            (image, mask), self._first = self._first, None
            self._doc._replace(image, mask, self.box)
            return
        image = self._doc.image.copy()
        mask = self._doc.mask.copy()
        image[self.box.slices] = state[0]
        mask[self.box.slices] = state[1]
        self._doc._replace(image, mask, self.box)

    def redo(self) -> None:
        self._apply(self.after)

    def undo(self) -> None:
        self._apply(self.before)


class Document(QObject):
    """Holds what the user is editing and emits what changed."""

    image_replaced = Signal()  # pixels and/or size changed
    mask_changed = Signal(object)  # Box of the change, or None for "everything"
    modified_changed = Signal(bool)
    changed = Signal()  # anything worth autosaving
    opened = Signal()  # a new document replaced the old one (not an edit of it)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.image: np.ndarray | None = None
        self.mask: np.ndarray | None = None
        self.source_path: Path | None = None  # the original file this came from
        self.save_path: Path | None = None  # where we last saved (safe to overwrite)
        self.title: str | None = None  # the name of a document with no file yet
        self.icc_profile: bytes | None = None
        self.exif: bytes | None = None
        self._dirty_without_undo = False
        self._stroke_before: np.ndarray | None = None
        self._stroke_box: Box | None = None
        self.changed_box: Box | None = None  # set while image_replaced fires for a box edit
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self.undo_stack.indexChanged.connect(self._on_index_changed)

    # -- whole-document operations --------------------------------------------------------

    @property
    def has_image(self) -> bool:
        return self.image is not None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height); (0, 0) without an image."""
        if self.image is None:
            return 0, 0
        return int(self.image.shape[1]), int(self.image.shape[0])

    @property
    def is_modified(self) -> bool:
        return self._dirty_without_undo or not self.undo_stack.isClean()

    @property
    def display_name(self) -> str:
        path = self.save_path or self.source_path
        return path.name if path else self.title or "Untitled"

    def load(
        self,
        image: np.ndarray,
        source_path: Path | None = None,
        icc_profile: bytes | None = None,
        exif: bytes | None = None,
        mask: np.ndarray | None = None,
        modified: bool = False,
        title: str | None = None,
    ) -> None:
        """Start a new document (clears undo); ``modified`` for restored autosaves and for
        pictures that exist nowhere else yet (generated)."""
        self.undo_stack.clear()
        self.source_path, self.save_path, self.title = source_path, None, title
        self.icc_profile, self.exif = icc_profile, exif
        if mask is None or mask.shape != image.shape[:2]:
            mask = np.zeros(image.shape[:2], bool)  # lazily zeroed pages: free until painted
        else:
            mask = mask.astype(bool, copy=True)
        self._replace(image, mask)
        self._dirty_without_undo = modified
        self._emit_modified()
        self.opened.emit()

    def mark_saved(self, path: Path, at_index: int | None = None) -> None:
        """Record a finished save; ignored when the user edited on while it was written."""
        if at_index is not None and at_index != self.undo_stack.index():
            return
        self.save_path = Path(path)
        self._dirty_without_undo = False
        self.undo_stack.setClean()
        self._emit_modified()

    def apply_image(
        self,
        image: np.ndarray,
        text: str,
        mask: np.ndarray | None = None,
        within: Box | None = None,
    ) -> None:
        """Undoably replace the image (a result); a new size gets an empty mask.

        ``within``: the box outside which ``image`` equals the current image (see
        ``ImageEdit.between``)."""
        if mask is None:
            same = self.mask is not None and self.mask.shape == image.shape[:2]
            # The same mask array: applying leaves it as it is, and undo records copy its box.
            mask = self.mask if same else np.zeros(image.shape[:2], bool)
        else:
            mask = np.array(mask, bool)  # the document's own: strokes edit it in place
        if self.image is None:
            self.load(image, mask=mask, modified=True)
            return
        edit = ImageEdit.between(self, np.ascontiguousarray(image), mask, text, within)
        self.undo_stack.push(edit)

    # -- mask strokes -----------------------------------------------------------------------

    def stroke_begin(self) -> None:
        if self.mask is not None:
            self._stroke_before = self.mask.copy()
            self._stroke_box = None

    def stroke_paint(
        self,
        p0: tuple[float, float],
        p1: tuple[float, float],
        radius: float,
        hardness: float,
        value: bool,
    ) -> None:
        if self.mask is None or self._stroke_before is None:
            return
        box = paint_segment(self.mask, p0, p1, radius, hardness, value)
        if box is not None:
            self._stroke_box = box.union(self._stroke_box)
            self.mask_changed.emit(box)

    def stroke_end(self, text: str) -> None:
        before, box = self._stroke_before, self._stroke_box
        self._stroke_before = self._stroke_box = None
        if before is None or box is None:
            return
        old = before[box.slices].copy()
        new = self.mask[box.slices].copy()
        if not np.array_equal(old, new):
            self.undo_stack.push(MaskEdit(self, box, old, new, text))

    @property
    def stroke_active(self) -> bool:
        return self._stroke_before is not None

    # -- one-shot mask edits ----------------------------------------------------------------

    def fill_rect(self, c0: tuple[float, float], c1: tuple[float, float], value: bool) -> None:
        self._edit(lambda m: fill_rect(m, c0, c1, value), "Rectangle" if value else "Cut rectangle")

    def fill_polygon(self, points: Sequence[tuple[float, float]], value: bool) -> None:
        self._edit(lambda m: fill_polygon(m, points, value), "Lasso" if value else "Cut lasso")

    def invert_mask(self) -> None:
        self._edit(lambda m: _invert(m), "Invert mask")

    def clear_mask(self) -> None:
        self._edit(lambda m: _clear(m), "Clear mask")

    def set_mask(self, mask: np.ndarray, text: str = "Load mask") -> None:
        if self.mask is None or mask.shape != self.mask.shape:
            raise ValueError("mask size does not match the image")
        self._edit(lambda m: _assign(m, mask), text)

    def _edit(self, operation, text: str) -> None:
        if self.mask is None:
            return
        work = self.mask.copy()
        box = operation(work)
        if box is None:
            return
        old, new = self.mask[box.slices].copy(), work[box.slices].copy()
        if not np.array_equal(old, new):
            self.undo_stack.push(MaskEdit(self, box, old, new, text))

    # -- used by the commands ---------------------------------------------------------------

    def _write_mask(self, box: Box, pixels: np.ndarray) -> None:
        self.mask[box.slices] = pixels
        self.mask_changed.emit(box)

    def _replace(
        self, image: np.ndarray | None, mask: np.ndarray | None, box: Box | None = None
    ) -> None:
        """New arrays; ``box`` (same size only): the one area whose pixels changed, so views
        redraw that much and not the whole photo (read it as ``changed_box``)."""
        self.image, self.mask = image, mask
        self.changed_box = box
        self.image_replaced.emit()
        self.changed_box = None
        self.mask_changed.emit(box)
        self.changed.emit()

    @Slot(bool)
    def _on_clean_changed(self, _clean: bool) -> None:
        self._emit_modified()

    @Slot(int)
    def _on_index_changed(self, _index: int) -> None:
        self.changed.emit()

    def _emit_modified(self) -> None:
        self.modified_changed.emit(self.is_modified)
        self.changed.emit()


def _shift(box: Box, area: Box) -> Box:
    """``box`` given inside ``area`` -> image coordinates."""
    return Box(box.x0 + area.x0, box.y0 + area.y0, box.x1 + area.x0, box.y1 + area.y0)


def _invert(mask: np.ndarray) -> Box:
    np.logical_not(mask, out=mask)
    return Box.full(mask.shape)


def _clear(mask: np.ndarray) -> Box | None:
    box = nonzero_box(mask)
    mask[:] = False
    return box


def _assign(mask: np.ndarray, new: np.ndarray) -> Box | None:
    box = nonzero_box(mask != new)
    mask[:] = new
    return box
