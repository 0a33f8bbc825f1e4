"""The Batch panel: drop files and folders, pick settings, watch each file and the whole batch.

A thin view over ``BatchController``: it shows rows and progress it is given and emits what
the user asked for. Selecting a finished row shows the input and its result side by side.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDropEvent, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.batch_controller import ACTIVE, IDLE, PAUSED, BatchController
from app.batch_queue import DONE, RUNNING, STATE_LABELS, BatchSettings
from app.imaging import to_pixmap

COMPARE_SIDE = 256  # on-screen width of each crop: the output's centre, its input region
FORMATS = (("Same as input", "same"), ("PNG", "png"), ("JPEG", "jpeg"), ("WebP", "webp"),
           ("TIFF", "tiff"))  # fmt: skip
OVERWRITE = (("Skip existing", "skip"), ("Add a number", "suffix"), ("Replace", "replace"))


def _enlarged(pixels, side: int) -> QPixmap:
    """A crop shown ``side`` pixels wide with hard pixel edges, so detail can be compared."""
    return to_pixmap(pixels).scaled(
        side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
    )


def dropped_paths(event: QDropEvent | QDragEnterEvent) -> list[str]:
    mime = event.mimeData()
    if mime is None or not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]


class BatchPanel(QWidget):
    settings_changed = Signal()

    def __init__(self, controller: BatchController, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller = controller
        self.setAcceptDrops(True)
        layout = QVBoxLayout(self)
        hint = QLabel("Drop pictures or folders here.", self)
        hint.setStyleSheet("color: palette(mid);")
        layout.addWidget(hint)
        layout.addLayout(self._settings_form())
        self.table = QTableWidget(0, 3, self)
        self.table.setHorizontalHeaderLabels(["File", "Status", "Progress"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        layout.addWidget(self.table, 1)
        self.overall = QProgressBar(self)
        self.overall.setFormat("0/0")
        layout.addWidget(self.overall)
        layout.addLayout(self._buttons())
        layout.addLayout(self._compare())
        self._connect()
        self._on_state(IDLE)

    # -- construction -------------------------------------------------------------------------

    def _settings_form(self) -> QFormLayout:
        form = QFormLayout()
        self.factor = QComboBox(self)
        for scale in (2, 3, 4):
            self.factor.addItem(f"×{scale}", scale)
        self.factor.setCurrentIndex(2)
        form.addRow("Factor", self.factor)
        self.upscaler = QComboBox(self)
        self.upscaler.addItem("Fast (Lanczos, no model)", None)
        self.upscaler.setToolTip("Fast needs no model; a model adds detail (much slower).")
        form.addRow("Upscaler", self.upscaler)
        self.format = QComboBox(self)
        for label, key in FORMATS:
            self.format.addItem(label, key)
        self.quality = QSpinBox(self)
        self.quality.setRange(1, 100)
        self.quality.setValue(95)
        self.quality.setToolTip("JPEG and WebP quality")
        row = QHBoxLayout()
        row.addWidget(self.format, 1)
        row.addWidget(self.quality)
        form.addRow("Format", row)
        self.template = QLineEdit("{name}_x{scale}.{ext}", self)
        self.template.setToolTip("Fields: {name} {stem} {folder} {scale} {w} {h} {ext}")
        form.addRow("Name", self.template)
        self.overwrite = QComboBox(self)
        for label, key in OVERWRITE:
            self.overwrite.addItem(label, key)
        form.addRow("If it exists", self.overwrite)
        self.recursive = QCheckBox("Include sub-folders", self)
        self.recursive.setChecked(True)
        form.addRow("", self.recursive)
        self.output = QLineEdit(self)
        self.output.setPlaceholderText("next to the inputs, in 'upscaled'")
        choose = QPushButton("Choose…", self)
        choose.clicked.connect(self._choose_output)
        out_row = QHBoxLayout()
        out_row.addWidget(self.output, 1)
        out_row.addWidget(choose)
        form.addRow("Output", out_row)
        return form

    def _buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.start_button = QPushButton("Start", self)
        self.pause_button = QPushButton("Pause", self)
        self.cancel_button = QPushButton("Cancel", self)
        self.retry_button = QPushButton("Retry failed", self)
        self.open_button = QPushButton("Open output folder", self)
        for button in (self.start_button, self.pause_button, self.cancel_button,
                       self.retry_button, self.open_button):  # fmt: skip
            row.addWidget(button)
        return row

    def _compare(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.before = QLabel("Before", self)
        self.after = QLabel("After", self)
        for label in (self.before, self.after):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setMinimumSize(COMPARE_SIDE // 2, COMPARE_SIDE // 2)
            row.addWidget(label, 1)
        return row

    def _connect(self) -> None:
        c = self.controller
        c.rows_added.connect(self._on_rows_added)
        c.row_changed.connect(self._update_row)
        c.rows_reset.connect(self._rebuild)
        c.progress_changed.connect(self._on_progress)
        c.state_changed.connect(self._on_state)
        self.start_button.clicked.connect(self._start)
        self.pause_button.clicked.connect(self._toggle_pause)
        self.cancel_button.clicked.connect(c.cancel)
        self.retry_button.clicked.connect(self._retry)
        self.open_button.clicked.connect(self.open_output)
        self.table.itemSelectionChanged.connect(self._show_compare)

    # -- settings -----------------------------------------------------------------------------

    def set_models(self, entries) -> None:
        """Offer the installed models that can upscale, after the fast mode."""
        current = self.upscaler.currentData()
        while self.upscaler.count() > 1:
            self.upscaler.removeItem(1)
        for entry in entries:
            if "upscale" in entry.tasks:
                self.upscaler.addItem(f"{entry.label} (model)", entry.choice)
        self.upscaler.setCurrentIndex(max(0, self.upscaler.findData(current)))

    def settings(self) -> BatchSettings:
        return BatchSettings(
            output_dir=self.output.text().strip() or self.controller.queue.settings.output_dir,
            scale=int(self.factor.currentData()),
            model=self.upscaler.currentData(),
            format=self.format.currentData(),
            quality=self.quality.value(),
            template=self.template.text().strip() or "{name}_x{scale}.{ext}",
            overwrite=self.overwrite.currentData(),
            recursive=self.recursive.isChecked(),
        )

    def _choose_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.output.text())
        if folder:
            self.output.setText(folder)

    # -- actions ------------------------------------------------------------------------------

    def add_paths(self, paths: list[str]) -> None:
        self.controller.set_settings(self.settings())
        self.controller.add_paths(paths)

    def _start(self) -> None:
        self.controller.set_settings(self.settings())
        self.controller.start()

    def _retry(self) -> None:
        self.controller.set_settings(self.settings())
        self.controller.retry_failed()

    def _toggle_pause(self) -> None:
        if self.controller.state == PAUSED:
            self.controller.resume()
        else:
            self.controller.pause()

    def open_output(self) -> None:
        folder = self.controller.queue.settings.output_dir
        if folder and Path(folder).is_dir():
            QDesktopServices.openUrl(QUrl.fromLocalFile(folder))

    # -- view updates -------------------------------------------------------------------------

    def _on_rows_added(self, indices: list[int]) -> None:
        self.table.setRowCount(len(self.controller.queue.rows))
        for index in indices:
            self._update_row(index)
        if not self.output.text():
            self.output.setText(self.controller.queue.settings.output_dir)

    def _rebuild(self) -> None:
        self.table.setRowCount(len(self.controller.queue.rows))
        for index in range(self.table.rowCount()):
            self._update_row(index)

    def _update_row(self, index: int) -> None:
        row = self.controller.queue.rows[index]
        status = STATE_LABELS[row.state]
        if row.reason:
            status = f"{status}: {row.reason}"
        progress = f"{row.fraction:.0%}" if row.state in (RUNNING, DONE) else ""
        for column, text in enumerate((row.name, status, progress)):
            item = self.table.item(index, column)
            if item is None:
                item = QTableWidgetItem()
                self.table.setItem(index, column, item)
            item.setText(text)
            item.setToolTip(row.reason or row.output or row.entry.source)

    def _on_progress(self, finished: int, total: int, text: str) -> None:
        self.overall.setRange(0, max(1, total))
        self.overall.setValue(finished)
        self.overall.setFormat(text)

    def _on_state(self, state: str) -> None:
        self.start_button.setEnabled(state == IDLE)
        self.pause_button.setEnabled(state in (ACTIVE, PAUSED))
        self.pause_button.setText("Resume" if state == PAUSED else "Pause")
        self.cancel_button.setEnabled(state != IDLE)

    def _show_compare(self) -> None:
        selected = self.table.selectionModel().selectedRows()
        row = self.controller.queue.rows[selected[0].row()] if selected else None
        if row is None or row.state != DONE or row.before is None:
            for label, text in ((self.before, "Before"), (self.after, "After")):
                label.setPixmap(QPixmap())
                label.setText(text)
            return
        for label, pixels, path in (
            (self.before, row.before, row.entry.source),
            (self.after, row.after, row.output),
        ):
            label.setPixmap(_enlarged(pixels, COMPARE_SIDE))
            label.setToolTip(path)

    # -- drops --------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if dropped_paths(event):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if dropped_paths(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = dropped_paths(event)
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)
