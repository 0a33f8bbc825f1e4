"""Canvas input: zoom by wheel, pan, painting strokes, keys, cursors and edge dragging.

A mixin of :class:`app.widgets.canvas.Canvas` (kept apart so the view's drawing and document
plumbing and its input handling each read on their own); it uses the canvas's attributes.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QKeyEvent,
    QMouseEvent,
    QPainterPath,
    QWheelEvent,
)

MIN_ZOOM, MAX_ZOOM = 0.02, 32.0
ZOOM_STEP = 1.25


class CanvasInput:
    """The event handlers of the canvas (mixed into it ahead of ``QGraphicsView``)."""

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        delta = event.angleDelta().y()
        if delta == 0:
            return
        self.set_zoom(self.zoom * ZOOM_STEP ** (delta / 120))
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        panning = event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton and self._space
        )
        if panning:
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton and self._stage is None:
            point = self.map_to_image(event.position())
            frame = self._outpaint
            if frame is not None and not self.has_candidate:
                frame.dragging = frame.edge_at(point.x(), point.y(), self.zoom)
                if frame.dragging:
                    event.accept()
                    return
            if self._controller.press(point, event.modifiers()):
                event.accept()
                return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        point = self.map_to_image(event.position())
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self._fit_mode = False
            h, v = self.horizontalScrollBar(), self.verticalScrollBar()
            h.setValue(h.value() - round(delta.x()))
            v.setValue(v.value() - round(delta.y()))
            event.accept()
            return
        if self._outpaint is not None and self._outpaint.dragging:
            self._outpaint.drag_to(point.x(), point.y())
            self.viewport().update()
            self.outpaint_changed.emit()
            event.accept()
            return
        self._controller.move(point)
        self._update_cursor(point)
        self._update_edge_cursor(point)
        self.pointer_moved.emit(int(np.floor(point.x())), int(np.floor(point.y())))
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan_from is not None and event.button() in (
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.LeftButton,
        ):
            self._pan_from = None
            self.viewport().setCursor(
                Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.CrossCursor
            )
            event.accept()
            return
        frame = self._outpaint
        if event.button() == Qt.MouseButton.LeftButton and frame is not None and frame.dragging:
            frame.dragging = None
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton and self._controller.active:
            self._controller.release(self.map_to_image(event.position()))
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.isAutoRepeat():
            event.accept()
            return
        if event.key() == Qt.Key.Key_Space:
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        elif event.key() == Qt.Key.Key_Backslash:
            self.set_show_original(True)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.isAutoRepeat():
            event.accept()
            return
        if event.key() == Qt.Key.Key_Space:
            self._space = False
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        elif event.key() == Qt.Key.Key_Backslash:
            self.set_show_original(False)
        else:
            super().keyReleaseEvent(event)
            return
        event.accept()

    def focusOutEvent(self, event) -> None:  # noqa: N802
        self._space = False
        if self._controller.active:
            self._controller.abort()
        super().focusOutEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: N802
        self._cursor.hide()
        super().leaveEvent(event)

    def enterEvent(self, event) -> None:  # noqa: N802
        self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        super().enterEvent(event)

    def _update_cursor(self, point: QPointF | None) -> None:
        """The brush outline follows the pointer so the user sees the real brush size."""
        if point is not None:
            self._cursor.setData(0, point)
        point = self._cursor.data(0)
        brushy = self._tools.tool in ("brush", "eraser") and self._doc.has_image
        brushy = brushy and self._stage is None
        if point is None or not brushy:
            self._cursor.hide()
            return
        r = self._tools.size / 2
        self._cursor.setRect(QRectF(point.x() - r, point.y() - r, 2 * r, 2 * r))
        self._cursor.show()

    def _update_edge_cursor(self, point: QPointF) -> None:
        """In out-paint mode a resize cursor shows where an edge can be grabbed."""
        frame = self._outpaint
        if frame is None:  # other modes keep whatever cursor their tool set
            return
        edge = frame.edge_at(point.x(), point.y(), self.zoom)
        shapes = Qt.CursorShape
        if edge is None:
            if not self._space and self._pan_from is None:
                self.viewport().setCursor(shapes.CrossCursor)
            return
        horizontal = edge in ("left", "right")
        self.viewport().setCursor(shapes.SizeHorCursor if horizontal else shapes.SizeVerCursor)

    def _show_shape(self, path: QPainterPath | None) -> None:
        self._shape.setPath(path or QPainterPath())
