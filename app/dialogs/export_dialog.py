"""Export: file format and quality, then a path (the original file is never the default)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QWidget,
)

from app.choices import ExportChoice

FORMATS = {"PNG": ".png", "JPEG": ".jpg", "WebP": ".webp"}


class ExportDialog(QDialog):
    def __init__(self, parent: QWidget | None, suggested: str):
        super().__init__(parent)
        self.setWindowTitle("Export image")
        self.format = QComboBox(self)
        self.format.addItems(list(FORMATS))
        self.quality = QSlider(self)
        self.quality.setOrientation(self.quality.orientation().Horizontal)
        self.quality.setRange(1, 100)
        self.quality.setValue(92)
        self.quality_spin = QSpinBox(self)
        self.quality_spin.setRange(1, 100)
        self.quality_spin.setValue(92)
        self.quality.valueChanged.connect(self.quality_spin.setValue)
        self.quality_spin.valueChanged.connect(self.quality.setValue)
        quality_row = QHBoxLayout()
        quality_row.addWidget(self.quality, 1)
        quality_row.addWidget(self.quality_spin)
        self.path = QLineEdit(suggested, self)
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Format", self.format)
        form.addRow("Quality", quality_row)
        form.addRow("File", path_row)
        form.addRow(buttons)
        self.format.currentTextChanged.connect(self._on_format)
        suffix = Path(suggested).suffix.lower()
        for name, ext in FORMATS.items():
            if suffix in (ext, ".jpeg" if ext == ".jpg" else ext):
                self.format.setCurrentText(name)
        self._on_format(self.format.currentText())

    def choice(self) -> ExportChoice:
        return ExportChoice(self.path.text().strip(), self.quality_spin.value())

    def _on_format(self, name: str) -> None:
        lossy = name != "PNG"
        self.quality.setEnabled(lossy)
        self.quality_spin.setEnabled(lossy)
        path = Path(self.path.text().strip() or "export")
        self.path.setText(str(path.with_suffix(FORMATS[name])))

    def _browse(self) -> None:
        name = self.format.currentText()
        pattern = f"{name} (*{FORMATS[name]})"
        path, _ = QFileDialog.getSaveFileName(self, "Export image", self.path.text(), pattern)
        if path:
            self.path.setText(path)
            self._on_format(name)
