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


def tint_rgba(color: QColor) -> np.ndarray:
    """Opaque premultiplied RGBA for ``color``; overlay opacity is applied by the item."""
    return np.array([color.red(), color.green(), color.blue(), 255], np.uint8)


def mask_overlay(mask: np.ndarray, color: QColor) -> QImage:
    """Bool mask region -> premultiplied RGBA image, tinted where True, transparent elsewhere."""
    h, w = mask.shape
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[mask] = tint_rgba(color)
    image = QImage(rgba.data, w, h, w * 4, QImage.Format.Format_RGBA8888_Premultiplied)
    return image.copy()


def alpha_overlay(alpha: np.ndarray, color: QColor) -> QImage:
    """Float coverage 0..1 -> premultiplied RGBA tint, for the grow/feather preview."""
    h, w = alpha.shape
    a = np.clip(np.asarray(alpha, np.float32), 0.0, 1.0)[..., None]
    rgba = (tint_rgba(color).astype(np.float32)[None, None, :] * a + 0.5).astype(np.uint8)
    rgba = np.ascontiguousarray(rgba)
    image = QImage(rgba.data, w, h, w * 4, QImage.Format.Format_RGBA8888_Premultiplied)
    return image.copy()
