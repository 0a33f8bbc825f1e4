"""What the canvas draws in screen space, over or under the scene: the checkerboard, the empty
canvas hint, notices (drop highlight, "Opening…") and the out-paint frame.

Plain functions of a painter already reset to viewport coordinates, so the canvas class keeps
only geometry and input, and each drawing can be read on its own.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPixmap

DROP_COLOR = QColor(80, 160, 255)
HINT_COLOR = QColor(150, 153, 160)


def checker_brush() -> QBrush:
    pixmap = QPixmap(16, 16)
    pixmap.fill(QColor(204, 204, 204))
    painter = QPainter(pixmap)
    painter.fillRect(0, 0, 8, 8, QColor(153, 153, 153))
    painter.fillRect(8, 8, 8, 8, QColor(153, 153, 153))
    painter.end()
    return QBrush(pixmap)


def cosmetic_pen(color: QColor, dashed: bool = False) -> QPen:
    """A pen whose width is in screen pixels, whatever the zoom."""
    pen = QPen(color)
    pen.setCosmetic(True)
    pen.setWidthF(1.5)
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


def draw_hint(painter: QPainter, view: QRectF, text: str) -> None:
    """An empty canvas says how to start instead of staying blank."""
    painter.setPen(HINT_COLOR)
    font = painter.font()
    font.setPointSizeF(font.pointSizeF() * 1.3)
    painter.setFont(font)
    painter.drawText(view, Qt.AlignmentFlag.AlignCenter, text)


def draw_drop_highlight(painter: QPainter, view: QRectF) -> None:
    """A file that can be opened is over the window: tint it and frame it."""
    tint = QColor(DROP_COLOR)
    tint.setAlpha(50)
    painter.fillRect(view, tint)
    pen = QPen(DROP_COLOR)
    pen.setWidth(8)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(view.adjusted(4, 4, -4, -4))


def draw_notice(painter: QPainter, view: QRectF, text: str) -> None:
    """``text`` in a dark rounded box at the centre, readable over any picture."""
    font = painter.font()
    font.setPointSizeF(font.pointSizeF() * 1.4)
    painter.setFont(font)
    box = painter.fontMetrics().boundingRect(text).adjusted(-16, -10, 16, 10)
    box.moveCenter(view.center().toPoint())
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 170))
    painter.drawRoundedRect(QRectF(box), 8, 8)
    painter.setPen(QColor(255, 255, 255))
    painter.drawText(QRectF(box), Qt.AlignmentFlag.AlignCenter, text)


def draw_outpaint_frame(painter: QPainter, area: QRectF) -> None:
    """The extended canvas as a dashed frame with a grip on each edge."""
    painter.setPen(cosmetic_pen(QColor(255, 255, 255), dashed=True))
    painter.drawRect(area)
    painter.setBrush(QColor(255, 255, 255))
    grips = (
        QPointF(area.left(), area.center().y()), QPointF(area.right(), area.center().y()),
        QPointF(area.center().x(), area.top()), QPointF(area.center().x(), area.bottom()),
    )  # fmt: skip
    for grip in grips:
        painter.drawRect(QRectF(grip.x() - 4, grip.y() - 4, 8, 8))
