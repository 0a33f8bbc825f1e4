"""numpy <-> QImage conversion, in one place.

Every QImage made here owns its pixels (``.copy()``): a QImage that merely wraps a numpy buffer
dangles as soon as the array is freed, and engine arrays are freed on the engine's schedule.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage, QPixmap

_FORMATS = {
    1: QImage.Format.Format_Grayscale8,
    3: QImage.Format.Format_RGB888,
    4: QImage.Format.Format_RGBA8888,
}


def to_qimage(pixels: np.ndarray) -> QImage:
    """(H, W), (H, W, 3) or (H, W, 4) uint8 -> an owned QImage."""
    array = np.ascontiguousarray(pixels, dtype=np.uint8)
    if array.ndim == 2:
        array = array[..., None]
    h, w, channels = array.shape
    if channels not in _FORMATS:
        raise ValueError(f"cannot show an image with {channels} channels")
    image = QImage(array.data, w, h, w * channels, _FORMATS[channels])
    return image.copy()


def to_pixmap(pixels: np.ndarray) -> QPixmap:
    return QPixmap.fromImage(to_qimage(pixels))


def display_image(pixels: np.ndarray) -> QImage:
    """The photo in the format the raster painter draws directly (RGB32 / premultiplied ARGB),
    so ``QPixmap.fromImage`` on the GUI thread shares it instead of converting 100+ MP.

    Safe on a worker thread: QImage is reentrant (QPixmap is not)."""
    image = to_qimage(pixels)
    if image.hasAlphaChannel():
        return image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
    return image.convertToFormat(QImage.Format.Format_RGB32)


def tint_rgba(color: QColor) -> np.ndarray:
    """Opaque premultiplied RGBA for ``color``; overlay opacity is applied by the item."""
    return np.array([color.red(), color.green(), color.blue(), 255], np.uint8)


def mask_overlay(mask: np.ndarray, color: QColor) -> QImage:
    """Bool mask region -> premultiplied RGBA image, tinted where True, transparent elsewhere."""
    h, w = mask.shape
    image = QImage(w, h, QImage.Format.Format_RGBA8888_Premultiplied)
    image.fill(0)
    if w and h:  # tint in place, one 32-bit word a pixel (a masked RGBA assignment is 20x slower)
        words = np.frombuffer(image.bits(), np.uint32).reshape(h, image.bytesPerLine() // 4)
        np.copyto(words[:, :w], tint_rgba(color).view(np.uint32)[0], where=mask)
    return image


def alpha_overlay(alpha: np.ndarray, color: QColor) -> QImage:
    """Float coverage 0..1 -> premultiplied RGBA tint, for the grow/feather preview."""
    h, w = alpha.shape
    a = np.clip(np.asarray(alpha, np.float32), 0.0, 1.0)[..., None]
    rgba = (tint_rgba(color).astype(np.float32)[None, None, :] * a + 0.5).astype(np.uint8)
    rgba = np.ascontiguousarray(rgba)
    image = QImage(rgba.data, w, h, w * 4, QImage.Format.Format_RGBA8888_Premultiplied)
    return image.copy()
