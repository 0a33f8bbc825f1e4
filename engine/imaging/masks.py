"""Pixel masks (bool (H, W), True = regenerate): grow, feather, bounding box, token grids.

Everything here is built so the in-painting guarantee holds: the feathered alpha is exactly 0
outside the mask it came from, and a token is only kept when none of its pixels is masked.
"""

from __future__ import annotations

import cv2
import numpy as np

from engine.runtime.cancel import UserFacingError

EMPTY_MASK_MESSAGE = "The mask is empty: paint the area to regenerate first."


def _as_mask(mask: np.ndarray) -> np.ndarray:
    array = np.asarray(mask)
    if array.ndim != 2:
        raise UserFacingError(f"The mask must be a single-channel picture, not {array.shape}.")
    return array.astype(bool, copy=False)


def grow_mask(mask: np.ndarray, px: int) -> np.ndarray:
    """Dilate by a disc of radius ``px`` so the seam moves away from what the user painted.

    An exact Euclidean distance transform is used instead of ``cv2.dilate`` with an ellipse:
    it is a true disc and costs the same for a 2 px or a 200 px grow.
    """
    mask = _as_mask(mask)
    if px <= 0 or not mask.any():
        return mask.copy()
    # Only the mask's box plus the grow can change: the distance map (4 bytes a pixel) covers
    # that box, not the whole photo (784 MB at 196 MP for a small retouch).
    x0, y0, x1, y1 = mask_bbox(mask)
    reach = int(np.ceil(px)) + 1
    rows = slice(max(0, y0 - reach), min(mask.shape[0], y1 + reach))
    cols = slice(max(0, x0 - reach), min(mask.shape[1], x1 + reach))
    grown = mask.copy()
    # Distance from every pixel to the nearest masked pixel (masked pixels are the zeros).
    unmasked = (~mask[rows, cols]).astype(np.uint8)
    distance = cv2.distanceTransform(unmasked, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    grown[rows, cols] |= distance <= float(px)
    return grown


def feather_mask(mask: np.ndarray, px: int, smooth: bool = True) -> np.ndarray:
    """A soft alpha in [0, 1] that fades *inward* over ``px`` pixels from the mask's edge.

    It is exactly 0.0 everywhere outside ``mask`` (so those pixels stay bit-exact when blended)
    and 1.0 at least ``px`` pixels deep inside. The image border is not an edge: a mask that
    touches it stays opaque there, because there is nothing outside to blend with.
    """
    mask = _as_mask(mask)
    if px <= 0 or not mask.any():
        return mask.astype(np.float32)
    # Distance from every masked pixel to the nearest unmasked one: 1 on the edge, 0 outside.
    inside = mask.astype(np.uint8)
    distance = cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    alpha = np.clip(distance / np.float32(px), 0.0, 1.0).astype(np.float32)
    if smooth:
        alpha = alpha * alpha * (3.0 - 2.0 * alpha)  # smoothstep: no visible kink at either end
    alpha[~mask] = 0.0
    return alpha.astype(np.float32, copy=False)


def mask_bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the masked pixels, ends exclusive; an empty mask is a user error."""
    mask = _as_mask(mask)
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        raise UserFacingError(EMPTY_MASK_MESSAGE)
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def require_nonempty(mask: np.ndarray) -> None:
    """Fail early, before any model is loaded, when there is nothing to regenerate."""
    if not _as_mask(mask).any():
        raise UserFacingError(EMPTY_MASK_MESSAGE)


def _footprint_bounds(size: int, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell k covers pixels floor(k*size/cells) .. ceil((k+1)*size/cells), end exclusive.

    Integer arithmetic makes this exact; neighbouring cells may share a pixel, which only
    makes the masks more conservative.
    """
    k = np.arange(cells, dtype=np.int64)
    start = (k * size) // cells
    end = -((-(k + 1) * size) // cells)
    return start, end


def _integral(mask: np.ndarray) -> np.ndarray:
    """Summed-area table with a zero first row and column, (H+1, W+1)."""
    if mask.size < 2**31 - 1:
        return cv2.integral(mask.astype(np.uint8), sdepth=cv2.CV_32S)
    table = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), np.int64)
    np.cumsum(np.cumsum(mask, axis=0, dtype=np.int64), axis=1, out=table[1:, 1:])
    return table


def footprint_any(mask: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Resize a mask to (out_h, out_w) so an output cell is True if ANY pixel it covers is.

    This is the max-pool a resampling filter cannot promise (bilinear skips pixels when it
    shrinks); it works for any size ratio, shrinking or enlarging, per axis.
    """
    mask = _as_mask(mask)
    h, w = mask.shape
    if out_h <= 0 or out_w <= 0:
        raise UserFacingError("A mask can only be resized to at least 1×1 pixels.")
    if h == 0 or w == 0:
        return np.zeros((out_h, out_w), bool)
    table = _integral(mask)
    r0, r1 = _footprint_bounds(h, out_h)
    c0, c1 = _footprint_bounds(w, out_w)
    counts = (
        table[np.ix_(r1, c1)]
        - table[np.ix_(r0, c1)]
        - table[np.ix_(r1, c0)]
        + table[np.ix_(r0, c0)]
    )
    return counts > 0


def token_keep_mask(mask_window: np.ndarray, rows: int, cols: int | None = None) -> np.ndarray:
    """(rows, cols) bool, True = keep the source token; any masked pixel in a footprint
    regenerates it. ``cols`` defaults to ``rows`` (a square grid).

    Token (i, j) covers rows floor(i*h/rows) .. ceil((i+1)*h/rows) and the same for columns, so
    a mask edge that falls inside a token always regenerates it.
    """
    cols = rows if cols is None else cols
    if rows <= 0 or cols <= 0:
        raise UserFacingError("A token grid needs at least one token per side.")
    return ~footprint_any(mask_window, rows, cols)
