"""The results of a job: pick one, compare it with the original, apply, discard or vary it.

Nothing is applied until the user says so (like Krita's staging area): a click only shows the
variation on the canvas. Apply is an undoable edit; "Vary details from here" keeps the coarse
scales of the chosen variation and resamples the finer ones.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

ICON = 72
LABEL_PAD = 12  # room around an item's text inside its grid cell


class VariationsPanel(QWidget):
    selected = Signal(int)
    apply_requested = Signal(int)
    discard_requested = Signal()
    vary_requested = Signal(int, int)  # variation index, scales to keep
    split_changed = Signal(float)  # 0 = all "after", 1 = all "before"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.gallery = QListWidget(self)
        self.gallery.setViewMode(QListView.ViewMode.IconMode)
        self.gallery.setIconSize(QSize(ICON, ICON))
        self.gallery.setMovement(QListView.Movement.Static)
        self.gallery.setFlow(QListView.Flow.LeftToRight)
        self.gallery.setWrapping(False)  # one row: up to four results side by side
        self.gallery.setWordWrap(True)
        self._size_cells("2147483647")  # the widest seed there is
        self.gallery.currentRowChanged.connect(self._on_row)

        self.empty = QLabel("Results appear here; click one to see it on the canvas.", self)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: gray;")

        self.compare = QSlider(Qt.Orientation.Horizontal, self)
        self.compare.setRange(0, 100)
        self.compare.setValue(0)
        self.compare.setToolTip(
            "Drag to compare: left of the line is the original. Hold \\ to see the original."
        )
        self.compare.valueChanged.connect(lambda v: self.split_changed.emit(v / 100))
        compare_row = QHBoxLayout()
        compare_row.addWidget(QLabel("Compare", self))
        compare_row.addWidget(self.compare, 1)

        self.apply_button = QPushButton("Apply", self)
        self.apply_button.setToolTip("Put this variation into the image (undoable)")
        self.discard_button = QPushButton("Discard", self)
        self.discard_button.setToolTip("Throw all variations away")
        self.apply_button.clicked.connect(self._on_apply)
        self.discard_button.clicked.connect(self.discard_requested.emit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.apply_button, 1)
        buttons.addWidget(self.discard_button)

        self.keep_scales = QSpinBox(self)
        self.keep_scales.setPrefix("keep ")
        self.keep_scales.setSuffix(" scales")
        self.keep_scales.setToolTip("How many coarse scales of this variation stay fixed")
        self.vary_button = QPushButton("Vary details from here", self)
        self.vary_button.setToolTip(
            "Keep the composition of this variation and resample only the fine details"
        )
        self.vary_button.clicked.connect(self._on_vary)
        vary_row = QHBoxLayout()
        vary_row.addWidget(self.vary_button, 1)
        vary_row.addWidget(self.keep_scales)

        controls = QVBoxLayout()
        controls.addLayout(compare_row)
        controls.addLayout(buttons)
        controls.addLayout(vary_row)
        controls.addStretch(1)
        gallery_column = QVBoxLayout()
        gallery_column.addWidget(self.empty)
        gallery_column.addWidget(self.gallery, 1)
        layout = QHBoxLayout(self)  # docked under the canvas, next to the scale strip
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addLayout(gallery_column, 1)
        layout.addLayout(controls)
        self._can_vary = False
        self._can_compare = True
        self.clear()

    @property
    def count(self) -> int:
        return self.gallery.count()

    @property
    def current_index(self) -> int:
        return self.gallery.currentRow()

    def set_variations(
        self,
        thumbnails: list[QPixmap],
        seeds: list[int],
        num_scales: int,
        can_vary: bool,
        can_compare: bool = True,
    ) -> None:
        """``can_compare`` is False for a new picture: there is no "before" to compare with."""
        self.gallery.blockSignals(True)
        self.gallery.clear()
        for index, (pixmap, seed) in enumerate(zip(thumbnails, seeds, strict=True)):
            item = QListWidgetItem(QIcon(pixmap), f"#{index + 1}\n{seed}")
            item.setToolTip(f"Variation {index + 1}, seed {seed}")
            self.gallery.addItem(item)
        self.gallery.blockSignals(False)
        self._can_vary = can_vary and num_scales > 1
        self._can_compare = can_compare
        self.keep_scales.setRange(1, max(1, num_scales - 1))
        self.keep_scales.setValue(max(1, num_scales // 2))
        self.compare.setValue(0)
        self._sync(bool(thumbnails))
        if thumbnails:
            self.gallery.setCurrentRow(0)

    def _size_cells(self, widest: str) -> None:
        """Cells wide enough for the icon and for the seed on its own line, never elided."""
        metrics = self.gallery.fontMetrics()
        width = max(ICON, metrics.horizontalAdvance(widest)) + LABEL_PAD
        height = ICON + 2 * metrics.lineSpacing() + LABEL_PAD
        self.gallery.setGridSize(QSize(width, height))
        self.gallery.setFixedHeight(height + 22)
        self.gallery.setMinimumWidth(4 * width + 8)

    def select(self, index: int) -> None:
        self.gallery.setCurrentRow(index)

    def clear(self) -> None:
        self.gallery.clear()
        self._can_vary = False
        self._sync(False)

    def _sync(self, has_items: bool) -> None:
        self.empty.setVisible(not has_items)
        for widget in (self.apply_button, self.discard_button):
            widget.setEnabled(has_items)
        self.compare.setEnabled(has_items and self._can_compare)
        self.vary_button.setEnabled(has_items and self._can_vary)
        self.keep_scales.setEnabled(has_items and self._can_vary)
        if has_items and not self._can_vary:
            self.vary_button.setToolTip("This result has no scale tokens to start from")

    def _on_row(self, row: int) -> None:
        if row >= 0:
            self.selected.emit(row)

    def _on_apply(self) -> None:
        if self.current_index >= 0:
            self.apply_requested.emit(self.current_index)

    def _on_vary(self) -> None:
        if self.current_index >= 0:
            self.vary_requested.emit(self.current_index, self.keep_scales.value())
