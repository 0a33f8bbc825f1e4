"""Every question the app asks the user, behind one replaceable object.

Widgets never call ``QMessageBox.exec()`` or ``QFileDialog`` directly: they ask ``Prompts``.
Tests pass a scripted subclass, so no modal dialog is ever left waiting for a click. Errors are
shown non-modally (``open()``), with the technical detail behind "Show Details...".
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.choices import ExportChoice, Sides
from app.dialogs.export_dialog import ExportDialog
from app.dialogs.outpaint_dialog import OutpaintDialog
from app.engine_access import IMAGE_SUFFIXES

IMAGE_FILTER = "Images (" + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ");;All files (*)"


class Prompts:
    """Real dialogs. Override any method to script answers."""

    def __init__(self) -> None:
        self.open_boxes: list[QMessageBox] = []  # keeps non-modal boxes alive

    def unsaved_changes(self, parent: QWidget, name: str) -> str:
        """'save', 'discard' or 'cancel'."""
        box = QMessageBox(parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Unsaved changes")
        box.setText(f"Save the changes to {name} before closing?")
        box.setInformativeText("Your edits are lost if you don't save them.")
        buttons = QMessageBox.StandardButton
        box.setStandardButtons(buttons.Save | buttons.Discard | buttons.Cancel)
        box.setDefaultButton(buttons.Save)
        answer = box.exec()
        return {buttons.Save: "save", buttons.Discard: "discard"}.get(buttons(answer), "cancel")

    def restore_autosave(self, parent: QWidget | None, description: str) -> bool:
        answer = QMessageBox.question(
            parent,
            "Restore unsaved work?",
            f"Finescale did not close properly last time.\n\nRestore {description}?",
        )
        return answer == QMessageBox.StandardButton.Yes

    def overwrite_original(self, parent: QWidget, path: Path) -> bool:
        answer = QMessageBox.question(
            parent,
            "Replace the original?",
            f"{path.name} is the original file you opened.\n"
            "Replace it with the edited image? This cannot be undone.",
            defaultButton=QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def open_path(self, parent: QWidget, folder: str) -> str | None:
        path, _ = QFileDialog.getOpenFileName(parent, "Open image", folder, IMAGE_FILTER)
        return path or None

    def save_path(self, parent: QWidget, suggested: str, title: str = "Save image") -> str | None:
        filters = "PNG (*.png);;JPEG (*.jpg *.jpeg);;WebP (*.webp)"
        path, _ = QFileDialog.getSaveFileName(parent, title, suggested, filters)
        return path or None

    def mask_open_path(self, parent: QWidget, folder: str) -> str | None:
        path, _ = QFileDialog.getOpenFileName(parent, "Load mask", folder, IMAGE_FILTER)
        return path or None

    def import_folder(self, parent: QWidget, folder: str) -> str | None:
        """The folder holding checkpoints to import (a VQVAE + VAR pair, or a hub cache)."""
        path = QFileDialog.getExistingDirectory(parent, "Import models from folder", folder)
        return path or None

    def export(self, parent: QWidget, suggested: str) -> ExportChoice | None:
        dialog = ExportDialog(parent, suggested)
        return dialog.choice() if dialog.exec() else None

    def outpaint_sides(self, parent: QWidget, width: int, height: int) -> Sides | None:
        dialog = OutpaintDialog(parent, width, height)
        return dialog.sides() if dialog.exec() else None

    def error(self, parent: QWidget | None, message: str, detail: str = "") -> None:
        """Plain sentence in the box, traceback behind 'Show Details...'; never blocks."""
        box = QMessageBox(parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Finescale")
        box.setText(message)
        if detail:
            box.setDetailedText(detail)
        self._show(box)

    def info(self, parent: QWidget | None, title: str, message: str) -> None:
        box = QMessageBox(parent)
        box.setIcon(QMessageBox.Icon.Information)
        box.setWindowTitle(title)
        box.setText(message)
        self._show(box)

    def _show(self, box: QMessageBox) -> None:
        """Keep the box alive while it is open and forget it the moment it closes.

        The list must never be polled: a closed box is deleted by Qt, and asking its wrapper
        anything afterwards raises (that once hid every error dialog after the first).
        """
        self.open_boxes.append(box)
        box.finished.connect(lambda _result, b=box: self._close(b))
        box.open()

    def _close(self, box: QMessageBox) -> None:
        if box in self.open_boxes:
            self.open_boxes.remove(box)
            box.deleteLater()
