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

TILE = 512  # mask overlay tile side, image pixels


class MaskOverlayItem(QGraphicsItem):
    """The mask as a tinted layer in tiles, made only where the mask has pixels.

    Memory and work follow what is painted, not the photo: a fresh 100 MP document costs no
    layer at all, a brush dab converts only the tiles it touches, and a full rebuild (undo of
    a big edit, Apply) skips the empty ones.
    """

    def __init__(self) -> None:
        super().__init__()
        self._tiles: dict[tuple[int, int], QImage] = {}  # (row, col) -> TILE-sized tint
        self._size = (0, 0)  # (width, height) of the mask
        self._color = QColor(255, 40, 90)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    def set_color(self, color: QColor) -> None:
        self._color = QColor(color)

    @property
    def tile_count(self) -> int:
        return len(self._tiles)

    def reset(self, mask: np.ndarray | None) -> None:
        """Rebuild from the whole mask (new document, undo of a big edit, colour change)."""
        self._rebuild(mask, lambda block: mask_overlay(block, self._color))

    def show_alpha(self, alpha: np.ndarray) -> None:
        """Grow/feather preview: graded coverage instead of the painted bits."""
        self._rebuild(alpha, lambda block: alpha_overlay(block, self._color))

    def update_box(self, mask: np.ndarray, box: Box) -> None:
        """Redraw only the tiles ``box`` touches: a dab never costs a full-image conversion."""
        if self._size != (mask.shape[1], mask.shape[0]):
            self.reset(mask)
            return
        for row, col in _tiles_over(box.y0, box.y1, box.x0, box.x1):
            ty, tx = row * TILE, col * TILE
            y0, y1 = max(box.y0, ty), min(box.y1, ty + TILE)
            x0, x1 = max(box.x0, tx), min(box.x1, tx + TILE)
            block = mask[y0:y1, x0:x1]
            tile = self._tiles.get((row, col))
            if tile is None:
                if not block.any():
                    continue  # erasing where nothing was painted
                tile = self._tiles[(row, col)] = _blank_tile(mask.shape, row, col)
            painter = QPainter(tile)
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
            painter.drawImage(x0 - tx, y0 - ty, mask_overlay(block, self._color))
            painter.end()
        self.update(QRectF(box.x0, box.y0, box.width, box.height))

    def _rebuild(self, values: np.ndarray | None, tint) -> None:
        self.prepareGeometryChange()
        self._tiles = {}
        self._size = (0, 0) if values is None else (values.shape[1], values.shape[0])
        if values is not None:
            height, width = values.shape
            for row, col in _tiles_over(0, height, 0, width):
                block = values[row * TILE : (row + 1) * TILE, col * TILE : (col + 1) * TILE]
                if block.any():
                    self._tiles[(row, col)] = tint(block)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return QRectF(0, 0, *self._size)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        exposed = option.exposedRect.toAlignedRect().intersected(QRect(0, 0, *self._size))
        if exposed.isEmpty() or not self._tiles:
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        bottom, right = exposed.y() + exposed.height(), exposed.x() + exposed.width()
        for row, col in _tiles_over(exposed.y(), bottom, exposed.x(), right):
            tile = self._tiles.get((row, col))
            if tile is not None:
                area = QRect(col * TILE, row * TILE, tile.width(), tile.height())
                part = area.intersected(exposed)
                source = part.translated(-area.x(), -area.y())
                painter.drawImage(QRectF(part), tile, QRectF(source))


def _tiles_over(y0: int, y1: int, x0: int, x1: int) -> list[tuple[int, int]]:
    """(row, col) of every tile meeting rows y0..y1-1 and columns x0..x1-1."""
    if y1 <= y0 or x1 <= x0:
        return []
    rows = range(y0 // TILE, (y1 - 1) // TILE + 1)
    return [(r, c) for r in rows for c in range(x0 // TILE, (x1 - 1) // TILE + 1)]


def _blank_tile(shape: tuple[int, int], row: int, col: int) -> QImage:
    """A transparent tile, cut short at the mask's right and bottom edges."""
    height = min(TILE, shape[0] - row * TILE)
    width = min(TILE, shape[1] - col * TILE)
    tile = QImage(width, height, QImage.Format.Format_RGBA8888_Premultiplied)
    tile.fill(0)
    return tile


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
