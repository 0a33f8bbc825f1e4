"""Pixel operations on a boolean mask: brush segments, rectangles, polygons.

Each operation edits the mask in place and returns the box it touched, so the document can keep
an undo record of that box only and the canvas can repaint only that box. Coordinates are image
pixels as floats; pixel ``(x, y)`` covers ``[x, x+1) x [y, y+1)`` and is hit when its centre is.

A boolean mask has no partial pixels, so a soft brush (hardness < 1) dithers its edge with an
ordered 4x4 Bayer pattern: coverage falls off with density, and the engine's grow/feather turns
that density into a gradual transition.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from app.engine_access import Window

_BAYER4 = (np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]]) + 0.5) / 16


@dataclass(frozen=True, slots=True)
class Box(Window):
    """A pixel rectangle, ends exclusive: the engine's ``Window`` plus what undo records need."""

    def union(self, other: Box | None) -> Box:
        if other is None:
            return self
        return Box(
            min(self.x0, other.x0), min(self.y0, other.y0),
            max(self.x1, other.x1), max(self.y1, other.y1),
        )  # fmt: skip

    @staticmethod
    def full(shape: tuple[int, ...]) -> Box:
        return Box(0, 0, int(shape[1]), int(shape[0]))


def clip_box(y0: float, y1: float, x0: float, x1: float, shape: tuple[int, ...]) -> Box | None:
    """Round outward and clip to the image; None when nothing is left."""
    h, w = shape[:2]
    box = Box(
        max(0, math.floor(x0)), max(0, math.floor(y0)), min(w, math.ceil(x1)), min(h, math.ceil(y1))
    )
    return box if box.y1 > box.y0 and box.x1 > box.x0 else None


def nonzero_box(mask: np.ndarray) -> Box | None:
    """The tight box around True pixels (used to store only what an edit changed)."""
    rows, cols = np.any(mask, axis=1), np.any(mask, axis=0)
    if not rows.any():
        return None
    ys, xs = np.flatnonzero(rows), np.flatnonzero(cols)
    return Box(int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1)


def segment_coverage(
    box: Box,
    p0: tuple[float, float],
    p1: tuple[float, float],
    radius: float,
    hardness: float,
) -> np.ndarray:
    """Which pixels of ``box`` a round brush dragged from p0 to p1 covers (dithered edge)."""
    ys = np.arange(box.y0, box.y1, dtype=np.float32) + 0.5
    xs = np.arange(box.x0, box.x1, dtype=np.float32) + 0.5
    (ax, ay), (bx, by) = p0, p1
    dx, dy = bx - ax, by - ay
    px, py = xs[None, :] - ax, ys[:, None] - ay
    length2 = dx * dx + dy * dy
    t = np.clip((px * dx + py * dy) / length2, 0.0, 1.0) if length2 > 1e-12 else 0.0
    distance = np.hypot(px - t * dx, py - t * dy)
    soft = max(radius * (1.0 - float(np.clip(hardness, 0.0, 1.0))), 1e-6)
    coverage = np.clip((radius - distance) / soft, 0.0, 1.0)
    threshold = _BAYER4[np.ix_(np.arange(box.y0, box.y1) % 4, np.arange(box.x0, box.x1) % 4)]
    return coverage > threshold


def paint_segment(
    mask: np.ndarray,
    p0: tuple[float, float],
    p1: tuple[float, float],
    radius: float,
    hardness: float = 1.0,
    value: bool = True,
) -> Box | None:
    """Stamp a brush (value True) or eraser (False) along p0 -> p1; returns the touched box."""
    radius = max(0.5, float(radius))
    box = clip_box(
        min(p0[1], p1[1]) - radius, max(p0[1], p1[1]) + radius,
        min(p0[0], p1[0]) - radius, max(p0[0], p1[0]) + radius,
        mask.shape,
    )  # fmt: skip
    if box is None:
        return None
    hit = segment_coverage(box, p0, p1, radius, hardness)
    _apply(mask[box.slices], hit, value)
    return box


def _apply(region: np.ndarray, hit: np.ndarray, value: bool) -> None:
    """Paint (``value``) or erase the ``hit`` pixels of ``region``, in place."""
    if value:
        region |= hit
    else:
        region &= ~hit


def fill_rect(
    mask: np.ndarray, corner0: tuple[float, float], corner1: tuple[float, float], value: bool = True
) -> Box | None:
    """Set (or clear) every pixel whose centre lies inside the rectangle."""
    x0, x1 = sorted((corner0[0], corner1[0]))
    y0, y1 = sorted((corner0[1], corner1[1]))
    box = clip_box(round(y0), round(y1), round(x0), round(x1), mask.shape)
    if box is None:
        return None
    mask[box.slices] = value
    return box


def fill_polygon(
    mask: np.ndarray, points: Sequence[tuple[float, float]], value: bool = True
) -> Box | None:
    """Fill a closed lasso polygon; sub-pixel vertices are honoured via cv2's fixed point."""
    if len(points) < 3:
        return None
    pts = np.asarray(points, np.float64)
    box = clip_box(pts[:, 1].min(), pts[:, 1].max(), pts[:, 0].min(), pts[:, 0].max(), mask.shape)
    if box is None:
        return None
    shift = 4  # 1/16 pixel precision; cv2 puts integer coordinates at pixel centres
    local = (pts - [box.x0 + 0.5, box.y0 + 0.5]) * (1 << shift)
    canvas = np.zeros((box.height, box.width), np.uint8)
    cv2.fillPoly(canvas, [np.round(local).astype(np.int32)], 1, cv2.LINE_8, shift)
    hit = canvas.astype(bool)
    _apply(mask[box.slices], hit, value)
    return box
