"""What the mask tools do with a press-drag-release gesture, in image coordinates.

Kept apart from the canvas so the view only translates mouse events (zoom, pan, DPI) and this
class only decides what a gesture means: brush/eraser strokes become one undo step each,
rectangle and lasso fill on release (Alt subtracts).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainterPath, QPolygonF

from app.state.document import Document
from app.state.tool_settings import ToolSettings

ShapeSink = Callable[[QPainterPath | None], None]


class MaskToolController:
    """Turns gestures into document edits; shows rubber-band shapes through ``show_shape``."""

    def __init__(self, document: Document, settings: ToolSettings, show_shape: ShapeSink):
        self._doc = document
        self._settings = settings
        self._show_shape = show_shape
        self._active: str | None = None
        self._subtract = False
        self._last: tuple[float, float] | None = None
        self._anchor: tuple[float, float] | None = None
        self._points: list[tuple[float, float]] = []

    @property
    def active(self) -> bool:
        return self._active is not None

    def press(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> bool:
        """Start a gesture; False when there is nothing to edit."""
        if not self._doc.has_image:
            return False
        tool = self._settings.tool
        point = (pos.x(), pos.y())
        self._active = tool
        self._subtract = bool(modifiers & Qt.KeyboardModifier.AltModifier)
        if tool in ("brush", "eraser"):
            self._doc.stroke_begin()
            self._dab(tool, point, point)
            self._last = point
        elif tool == "rect":
            self._anchor = point
            self._show_rect(point)
        elif tool == "lasso":
            self._points = [point]
        return True

    def move(self, pos: QPointF) -> None:
        if self._active is None:
            return
        point = (pos.x(), pos.y())
        if self._active in ("brush", "eraser"):
            self._dab(self._active, self._last or point, point)
            self._last = point
        elif self._active == "rect":
            self._show_rect(point)
        elif self._active == "lasso" and self._points and _far_enough(self._points[-1], point):
            self._points.append(point)
            self._show_lasso()

    def release(self, pos: QPointF) -> None:
        tool, self._active = self._active, None
        if tool is None:
            return
        point = (pos.x(), pos.y())
        value = not self._subtract
        if tool in ("brush", "eraser"):
            self._dab(tool, self._last or point, point)
            self._doc.stroke_end("Brush stroke" if tool == "brush" else "Erase")
        elif tool == "rect" and self._anchor is not None:
            self._doc.fill_rect(self._anchor, point, value)
        elif tool == "lasso":
            self._points.append(point)
            self._doc.fill_polygon(self._points, value)
        self._reset()

    def abort(self) -> None:
        """Focus lost mid-gesture: keep what a stroke painted (as one step), drop shapes."""
        if self._active in ("brush", "eraser"):
            self._doc.stroke_end("Brush stroke")
        self._active = None
        self._reset()

    def _dab(self, tool: str, p0: tuple[float, float], p1: tuple[float, float]) -> None:
        value = tool == "brush"
        radius = self._settings.size / 2
        self._doc.stroke_paint(p0, p1, radius, self._settings.hardness, value)

    def _show_rect(self, point: tuple[float, float]) -> None:
        path = QPainterPath()
        ax, ay = self._anchor or point
        path.addRect(QRectF(QPointF(ax, ay), QPointF(*point)).normalized())
        self._show_shape(path)

    def _show_lasso(self) -> None:
        path = QPainterPath()
        path.addPolygon(QPolygonF([QPointF(x, y) for x, y in self._points]))
        self._show_shape(path)

    def _reset(self) -> None:
        self._last = self._anchor = None
        self._points = []
        self._show_shape(None)


def _far_enough(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return abs(a[0] - b[0]) + abs(a[1] - b[1]) >= 1.0
