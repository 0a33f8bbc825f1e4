"""Scene items drawn by the canvas: mask overlay, candidate (with compare split), preview.

Scene units are image pixels; the view's transform does all zooming, so items never rescale
their pixels themselves (Qt maps them to device pixels, which keeps high-DPI screens sharp).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap, QTransform
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPixmapItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.imaging import alpha_overlay, mask_overlay
from app.state.mask_paint import Box


class MaskOverlayItem(QGraphicsItem):
    """The mask as a tinted layer; updated box by box while painting."""

    def __init__(self) -> None:
        super().__init__()
        self._image = QImage()
        self._color = QColor(255, 40, 90)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    def set_color(self, color: QColor) -> None:
        self._color = QColor(color)

    def reset(self, mask: np.ndarray | None) -> None:
        """Rebuild from the whole mask (new document, undo of a big edit, colour change).

        An empty mask gets no image at all: a fresh 100 MP photo must not cost the GUI thread
        a 400 MB transparent layer; the first brush dab makes it (``update_box``).
        """
        self.prepareGeometryChange()
        empty = mask is None or not mask.any()
        self._image = QImage() if empty else mask_overlay(mask, self._color)
        self.update()

    def update_box(self, mask: np.ndarray, box: Box) -> None:
        """Redraw only ``box``: a brush dab must not cost a full-image conversion."""
        if self._image.isNull() or self._image.size().toTuple() != (mask.shape[1], mask.shape[0]):
            self.prepareGeometryChange()
            self._image = mask_overlay(mask, self._color)
            self.update()
            return
        patch = mask_overlay(mask[box.slices], self._color)
        painter = QPainter(self._image)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        painter.drawImage(box.x0, box.y0, patch)
        painter.end()
        self.update(QRectF(box.x0, box.y0, box.width, box.height))

    def show_alpha(self, alpha: np.ndarray) -> None:
        """Grow/feather preview: graded coverage instead of the painted bits."""
        self.prepareGeometryChange()
        self._image = alpha_overlay(alpha, self._color)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return QRectF(0, 0, self._image.width(), self._image.height())

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if self._image.isNull():
            return
        exposed = option.exposedRect.toAlignedRect().intersected(self._image.rect())
        if exposed.isEmpty():
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(QRectF(exposed), self._image, QRectF(exposed))


class CandidateItem(QGraphicsPixmapItem):
    """A variation shown over the image; left of the split line the original shows through."""

    def __init__(self) -> None:
        super().__init__()
        self._split = 0.0  # fraction of the width where "after" starts

    def set_split(self, fraction: float) -> None:
        self._split = float(min(1.0, max(0.0, fraction)))
        self.update()

    @property
    def split(self) -> float:
        return self._split

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        pixmap = self.pixmap()
        if pixmap.isNull():
            return
        x = round(pixmap.width() * self._split)
        if x > 0:
            painter.setClipRect(QRectF(x, 0, pixmap.width() - x, pixmap.height()))
        super().paint(painter, option, widget)
        if 0 < x < pixmap.width():
            painter.setClipping(False)
            pen = painter.pen()
            pen.setCosmetic(True)
            pen.setWidth(2)
            pen.setColor(QColor(255, 255, 255, 220))
            painter.setPen(pen)
            painter.drawLine(QPointF(x, 0), QPointF(x, pixmap.height()))


class PreviewItem(QGraphicsPixmapItem):
    """The newest scale's preview, stretched over the area the job is generating."""

    def __init__(self) -> None:
        super().__init__()
        self.setTransformationMode(Qt.TransformationMode.SmoothTransformation)

    def show_preview(self, pixmap: QPixmap, target: QRectF) -> None:
        self.setPixmap(pixmap)
        if pixmap.width() and pixmap.height():
            self.setPos(target.topLeft())
            self.setScale(1.0)
            sx = target.width() / pixmap.width()
            sy = target.height() / pixmap.height()
            self.setTransform(QTransform.fromScale(sx, sy))
        self.show()

    def clear(self) -> None:
        self.setPixmap(QPixmap())
        self.hide()


def fit_rect(inner: tuple[int, int], outer: QRect | QRectF) -> QRectF:
    """``inner`` (w, h) scaled to fit ``outer`` keeping its aspect, centred."""
    w, h = inner
    if w <= 0 or h <= 0:
        return QRectF(outer)
    scale = min(outer.width() / w, outer.height() / h)
    fw, fh = w * scale, h * scale
    return QRectF(
        outer.x() + (outer.width() - fw) / 2, outer.y() + (outer.height() - fh) / 2, fw, fh
    )
