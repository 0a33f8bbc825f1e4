"""A small models window used until the full models manager (``models_dialog``) exists.

It lists what is installed, says plainly when nothing is, and offers "Import checkpoint files"
(a VQVAE + VAR pair from disk) so the app is usable offline with files the user already has.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.engine_access import ModelEntry


class ModelStatusDialog(QDialog):
    import_requested = Signal()

    def __init__(self, parent: QWidget | None, models: list[ModelEntry]):
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.setMinimumWidth(420)
        layout = QVBoxLayout(self)
        if models:
            layout.addWidget(QLabel("Installed models:", self))
            listing = QListWidget(self)
            for entry in models:
                where = entry.choice.model_id or entry.choice.var_path or ""
                listing.addItem(f"{entry.label}  —  {where}")
            layout.addWidget(listing)
        else:
            message = QLabel(
                "<b>No model installed.</b><br>Import a VQVAE + VAR checkpoint pair you "
                "already have (.safetensors or .pth), or download the released VAR models "
                "from the Hugging Face hub (FoundationVision/var) and import them here.",
                self,
            )
            message.setWordWrap(True)
            layout.addWidget(message)
        import_button = QPushButton("Import checkpoint files…", self)
        import_button.clicked.connect(self.import_requested.emit)
        layout.addWidget(import_button)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
