"""Out-painting: how far to extend each side, as presets (+25/50/100%) or exact pixels."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.choices import Sides

SIDES = ("left", "right", "top", "bottom")
PRESETS = (25, 50, 100)
MAX_EXTEND = 8192


class OutpaintDialog(QDialog):
    def __init__(self, parent: QWidget | None, width: int, height: int):
        super().__init__(parent)
        self.setWindowTitle("Extend canvas")
        self._width, self._height = width, height
        self.spins: dict[str, QSpinBox] = {}
        grid = QGridLayout()
        for row, side in enumerate(SIDES):
            grid.addWidget(QLabel(side.capitalize(), self), row, 0)
            spin = QSpinBox(self)
            spin.setRange(0, MAX_EXTEND)
            spin.setSuffix(" px")
            spin.setAlignment(Qt.AlignmentFlag.AlignRight)
            spin.valueChanged.connect(self._update_summary)
            grid.addWidget(spin, row, 1)
            self.spins[side] = spin
            for col, percent in enumerate(PRESETS, start=2):
                button = QPushButton(f"+{percent}%", self)
                button.setToolTip(f"Extend the {side} side by {percent}% of the image")
                button.clicked.connect(lambda _c=False, s=side, p=percent: self.set_percent(s, p))
                grid.addWidget(button, row, col)
        all_row = len(SIDES)
        grid.addWidget(QLabel("All sides", self), all_row, 0)
        for col, percent in enumerate(PRESETS, start=2):
            button = QPushButton(f"+{percent}%", self)
            button.clicked.connect(lambda _c=False, p=percent: self.set_all(p))
            grid.addWidget(button, all_row, col)
        self.summary = QLabel(self)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Extend")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"The image is {width} × {height} px.", self))
        layout.addLayout(grid)
        layout.addWidget(self.summary)
        layout.addWidget(buttons)
        self._update_summary()

    def set_percent(self, side: str, percent: int) -> None:
        base = self._width if side in ("left", "right") else self._height
        self.spins[side].setValue(round(base * percent / 100))

    def set_all(self, percent: int) -> None:
        for side in SIDES:
            self.set_percent(side, percent)

    def sides(self) -> Sides:
        return Sides(*(self.spins[s].value() for s in SIDES))

    def _update_summary(self) -> None:
        s = self.sides()
        new_w, new_h = self._width + s.left + s.right, self._height + s.top + s.bottom
        self.summary.setText(f"New size: {new_w} × {new_h} px")
        self.ok_button.setEnabled(any((s.left, s.right, s.top, s.bottom)))
