"""Overlapping square windows over an image of any size, and their seamless blending.

Windows are laid row-major with a fixed overlap; the last row/column is snapped to the image
edge (so overlaps there may be larger). Each window is blended with a weight that ramps
linearly across the sides it shares with a neighbour and stays 1 elsewhere; dividing by the
summed weight makes equal contributions blend to exactly themselves, so a tiled local operator
equals the untiled one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


def starts(length: int, tile: int, overlap: int) -> list[int]:
    """Window starts along one axis covering ``length`` (a single 0 when it fits)."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    if stride <= 0:
        raise ValueError(f"overlap {overlap} must be smaller than the tile {tile}")
    out = list(range(0, length - tile, stride))
    out.append(length - tile)
    return out


@dataclass(frozen=True)
class Window:
    """One square window: rows ``top:top+size`` and columns ``left:left+size`` (may run past a
    small image's edge, which is then padded)."""

    top: int
    left: int
    size: int

    @property
    def rows(self) -> slice:
        return slice(self.top, self.top + self.size)

    @property
    def cols(self) -> slice:
        return slice(self.left, self.left + self.size)


@dataclass(frozen=True)
class TileLayout:
    height: int
    width: int
    tile: int
    overlap: int

    @property
    def row_starts(self) -> list[int]:
        return starts(self.height, self.tile, self.overlap)

    @property
    def col_starts(self) -> list[int]:
        return starts(self.width, self.tile, self.overlap)

    def __len__(self) -> int:
        return len(self.row_starts) * len(self.col_starts)

    def __iter__(self) -> Iterator[Window]:
        for top in self.row_starts:
            for left in self.col_starts:
                yield Window(top, left, self.tile)

    def seams(self) -> tuple[list[int], list[int]]:
        """Centre lines of the overlaps (row and column coordinates): where seams would show."""
        rows, cols = self.row_starts, self.col_starts
        mid_r = [(a + self.tile + b) // 2 for a, b in zip(rows[:-1], rows[1:], strict=True)]
        mid_c = [(a + self.tile + b) // 2 for a, b in zip(cols[:-1], cols[1:], strict=True)]
        return mid_r, mid_c


def crop(image: np.ndarray, window: Window) -> np.ndarray:
    """The window's pixels; a window larger than the image is filled by edge reflection."""
    h, w = image.shape[:2]
    pad_r, pad_c = max(0, window.top + window.size - h), max(0, window.left + window.size - w)
    if pad_r or pad_c:
        mode = "reflect" if pad_r < h and pad_c < w else "edge"
        image = np.pad(image, ((0, pad_r), (0, pad_c), (0, 0))[: image.ndim], mode=mode)
    return image[window.rows, window.cols]


def _ramp(size: int, overlap: int, before: bool, after: bool) -> np.ndarray:
    ramp = np.ones(size, np.float32)
    if overlap > 0:
        rise = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        if before:
            ramp[:overlap] = rise
        if after:
            ramp[size - overlap :] = rise[::-1]
    return ramp


class Blender:
    """Accumulates weighted windows into a float canvas; ``result()`` is the blended image."""

    def __init__(self, layout: TileLayout, channels: int = 3):
        self.layout = layout
        self.sum = np.zeros((layout.height, layout.width, channels), np.float32)
        self.weight = np.zeros((layout.height, layout.width, 1), np.float32)
        self.done = np.zeros((layout.height, layout.width), bool)

    def weights(self, window: Window) -> np.ndarray:
        """(size, size, 1) feather weight: ramps only on sides that have a neighbour."""
        lay = self.layout
        rows, cols = lay.row_starts, lay.col_starts
        ramp_r = _ramp(window.size, lay.overlap, window.top != rows[0], window.top != rows[-1])
        ramp_c = _ramp(window.size, lay.overlap, window.left != cols[0], window.left != cols[-1])
        return np.outer(ramp_r, ramp_c)[..., None]

    def add(self, window: Window, pixels: np.ndarray) -> None:
        h = min(window.size, self.layout.height - window.top)
        w = min(window.size, self.layout.width - window.left)
        weight = self.weights(window)[:h, :w]
        rows, cols = slice(window.top, window.top + h), slice(window.left, window.left + w)
        self.sum[rows, cols] += pixels[:h, :w].astype(np.float32) * weight
        self.weight[rows, cols] += weight
        self.done[rows, cols] = True

    def current(self, window: Window | None = None) -> np.ndarray:
        """Blended uint8 image of what is done so far (zeros elsewhere), or one window of it."""
        total, weight = self.sum, self.weight
        if window is not None:
            total, weight = crop(total, window), crop(weight, window)
        out = total / np.maximum(weight, 1e-12)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)

    def result(self) -> np.ndarray:
        if not self.done.all():
            raise RuntimeError("not every pixel was covered by a window")
        return self.current()


def seam_energy(image: np.ndarray, layout: TileLayout) -> tuple[float, float]:
    """(mean |luma step| across the overlaps' centre lines, the same mean everywhere else).

    Across each centre line, the three neighbouring pixel differences straddling it are taken;
    a visible seam is a step there, so a seamless result has a first value no larger than the
    second (natural edges cross the lines as often as anywhere).
    """
    y = image[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    gx, gy = np.abs(np.diff(y, axis=1)), np.abs(np.diff(y, axis=0))
    rows, cols = layout.seams()
    in_x, in_y = np.zeros_like(gx, bool), np.zeros_like(gy, bool)
    for c in cols:
        in_x[:, c - 2 : c + 1] = True
    for r in rows:
        in_y[r - 2 : r + 1, :] = True
    border = np.concatenate((gx[in_x], gy[in_y]))
    rest = np.concatenate((gx[~in_x], gy[~in_y]))
    return float(border.mean()) if border.size else 0.0, float(rest.mean())
