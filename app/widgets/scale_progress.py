"""Live scale-by-scale progress: one thumbnail per scale, a 'scale k/K' bar with ETA, Cancel.

Next-scale models form the picture coarse to fine, so the strip is the story of the job: the
user sees the composition settle in the first scales and can cancel early if it is wrong.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

THUMB = 64
_EMPTY_STYLE = "QLabel { background: palette(base); border: 1px dashed palette(mid); color: gray; }"
_DONE_STYLE = "QLabel { border: 1px solid palette(highlight); }"


class ScaleProgressStrip(QWidget):
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.thumbnails: list[QLabel] = []
        self._started = 0.0
        self._first_step: tuple[float, int] | None = None
        self._running = False

        self.status = QLabel("Ready", self)
        self.bar = QProgressBar(self)
        self.bar.setTextVisible(True)
        self.bar.setFormat("")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop after the current scale (Esc)")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_requested.emit)

        self._row = QHBoxLayout()
        self._row.setContentsMargins(4, 4, 4, 4)
        self._row.setSpacing(6)
        self._row.addStretch(1)
        holder = QWidget(self)
        holder.setLayout(self._row)
        scroll = QScrollArea(self)
        scroll.setWidget(holder)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setFixedHeight(THUMB + 26)
        scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.bar, 2)
        top.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addLayout(top)
        layout.addWidget(scroll)

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running

    def start(self, title: str) -> None:
        self._running = True
        self._started = time.monotonic()
        self._first_step = None
        self._set_slots(0)
        self.status.setText(title)
        self.bar.setRange(0, 0)  # busy until the first scale tells us the count
        self.bar.setFormat("Waiting for the engine…")
        self.cancel_button.setEnabled(True)

    def model_loading(self, name: str, done: int, total: int) -> None:
        self.status.setText(f"Loading {name}…")
        if total > 0:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * done / total))
            self.bar.setFormat(f"{done / 2**20:.0f} / {total / 2**20:.0f} MB")

    def progress(
        self,
        sample_index: int,
        num_samples: int,
        scale_index: int,
        num_scales: int,
        preview: QPixmap | None,
    ) -> None:
        if len(self.thumbnails) != num_scales:
            self._set_slots(num_scales)
        if scale_index == 0:  # a new sample starts its strip over
            for index, label in enumerate(self.thumbnails):
                self._clear_slot(label, index)
        for index in range(scale_index):  # coalesced events may skip a scale: mark it done
            if self.thumbnails[index].pixmap().isNull() and preview is not None:
                self._fill_slot(self.thumbnails[index], preview)
        if preview is not None:
            self._fill_slot(self.thumbnails[scale_index], preview)
        total = num_samples * num_scales
        done = sample_index * num_scales + scale_index + 1
        self.bar.setRange(0, total)
        self.bar.setValue(done)
        sample = f" · variation {sample_index + 1}/{num_samples}" if num_samples > 1 else ""
        self.bar.setFormat(f"Scale {scale_index + 1}/{num_scales}{sample}{self._eta(done, total)}")
        self.status.setText("Generating…")

    def finish(self, message: str, elapsed_s: float | None = None) -> None:
        """``elapsed_s`` is the engine's own timing when known (excludes queueing)."""
        self._stop(message)
        self.bar.setRange(0, max(1, self.bar.maximum()))
        self.bar.setValue(self.bar.maximum())
        seconds = time.monotonic() - self._started if elapsed_s is None else elapsed_s
        self.bar.setFormat(f"Done in {seconds:.1f} s")

    def stop(self, message: str) -> None:
        """Cancelled or failed: keep what formed so far, say what happened."""
        self._stop(message)
        self.bar.setRange(0, max(1, self.bar.maximum()))
        self.bar.setFormat(message)

    def idle(self, message: str) -> None:
        """The job's results were applied or discarded: say so instead of "pick one"."""
        self._stop(message)

    def cancelling(self) -> None:
        self.cancel_button.setEnabled(False)
        self.status.setText("Cancelling after this scale…")

    @property
    def filled_count(self) -> int:
        return sum(1 for label in self.thumbnails if not label.pixmap().isNull())

    # -- helpers ---------------------------------------------------------------------------------

    def _stop(self, message: str) -> None:
        self._running = False
        self.cancel_button.setEnabled(False)
        self.status.setText(message)

    def _eta(self, done: int, total: int) -> str:
        now = time.monotonic()
        if self._first_step is None:
            self._first_step = (now, done)
            return ""
        t0, d0 = self._first_step
        if done <= d0 or now <= t0:
            return ""
        remaining = (now - t0) / (done - d0) * (total - done)
        return f" · about {remaining:.0f} s left" if remaining >= 1 else ""

    def _set_slots(self, count: int) -> None:
        for label in self.thumbnails:
            self._row.removeWidget(label)
            label.deleteLater()
        self.thumbnails = []
        for index in range(count):
            label = QLabel(self)
            label.setFixedSize(QSize(THUMB, THUMB))
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self._clear_slot(label, index)
            self._row.insertWidget(index, label)
            self.thumbnails.append(label)

    @staticmethod
    def _clear_slot(label: QLabel, index: int) -> None:
        label.setPixmap(QPixmap())
        label.setText(str(index + 1))
        label.setStyleSheet(_EMPTY_STYLE)
        label.setToolTip(f"Scale {index + 1}")

    @staticmethod
    def _fill_slot(label: QLabel, preview: QPixmap) -> None:
        label.setStyleSheet(_DONE_STYLE)
        small = max(preview.width(), preview.height()) < THUMB
        mode = Qt.TransformationMode  # blocky upscaling shows how coarse a scale really is
        transform = mode.FastTransformation if small else mode.SmoothTransformation
        size = THUMB - 2
        label.setPixmap(preview.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, transform))
