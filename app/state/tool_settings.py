"""Observable mask-tool settings shared by the tool bar, the canvas and the generate panel.

Widgets bind to this object instead of to each other, so no widget needs a reference to another.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor

TOOLS = ("brush", "eraser", "rect", "lasso")
MIN_SIZE, MAX_SIZE = 1, 1000


class ToolSettings(QObject):
    changed = Signal()  # any field; widgets re-read what they show
    tool_changed = Signal(str)
    mask_params_changed = Signal()  # grow/feather/preview: the overlay preview is stale

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._tool = "brush"
        self._size = 40
        self._hardness = 1.0
        self._opacity = 0.5
        self._color = QColor(255, 40, 90)
        self._grow_px = 4
        self._feather_px = 8
        self._show_grow = False

    @property
    def tool(self) -> str:
        return self._tool

    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(tool)
        if tool != self._tool:
            self._tool = tool
            self.tool_changed.emit(tool)
            self.changed.emit()

    @property
    def size(self) -> int:
        return self._size

    def set_size(self, size: int) -> None:
        size = int(min(MAX_SIZE, max(MIN_SIZE, size)))
        if size != self._size:
            self._size = size
            self.changed.emit()

    def grow_size(self, steps: int) -> None:
        """``]`` / ``[``: about 20% per step so small and large brushes both change usefully."""
        factor = 1.2**steps
        new = round(self._size * factor)
        if new == self._size:
            new += 1 if steps > 0 else -1
        self.set_size(new)

    @property
    def hardness(self) -> float:
        return self._hardness

    def set_hardness(self, hardness: float) -> None:
        hardness = float(min(1.0, max(0.0, hardness)))
        if hardness != self._hardness:
            self._hardness = hardness
            self.changed.emit()

    @property
    def opacity(self) -> float:
        return self._opacity

    def set_opacity(self, opacity: float) -> None:
        opacity = float(min(1.0, max(0.05, opacity)))
        if opacity != self._opacity:
            self._opacity = opacity
            self.changed.emit()

    @property
    def color(self) -> QColor:
        return QColor(self._color)

    @property
    def grow_px(self) -> int:
        return self._grow_px

    @property
    def feather_px(self) -> int:
        return self._feather_px

    def set_grow_feather(self, grow_px: int, feather_px: int) -> None:
        grow_px, feather_px = max(0, int(grow_px)), max(0, int(feather_px))
        if (grow_px, feather_px) != (self._grow_px, self._feather_px):
            self._grow_px, self._feather_px = grow_px, feather_px
            self.mask_params_changed.emit()
            self.changed.emit()

    @property
    def show_grow(self) -> bool:
        return self._show_grow

    def set_show_grow(self, show: bool) -> None:
        if bool(show) != self._show_grow:
            self._show_grow = bool(show)
            self.mask_params_changed.emit()
            self.changed.emit()
