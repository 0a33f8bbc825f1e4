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


def _box_slices(mask: np.ndarray, pad: int) -> tuple[slice, slice] | None:
    """The masked pixels' bounding box grown by ``pad`` (clipped to the image); None if empty.

    Grow and feather only ever look ``pad`` pixels beyond the mask, so running them on this box
    gives the same bits as on the whole picture at a cost that follows the mask, not the photo.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    h, w = mask.shape
    return (
        slice(max(0, int(rows[0]) - pad), min(h, int(rows[-1]) + 1 + pad)),
        slice(max(0, int(cols[0]) - pad), min(w, int(cols[-1]) + 1 + pad)),
    )


def grow_mask(mask: np.ndarray, px: int) -> np.ndarray:
    """Dilate by a disc of radius ``px`` so the seam moves away from what the user painted.

    An exact Euclidean distance transform is used instead of ``cv2.dilate`` with an ellipse:
    it is a true disc and costs the same for a 2 px or a 200 px grow. It runs on the mask's
    box plus ``px`` only: no pixel farther away can be within ``px`` of the mask.
    """
    mask = _as_mask(mask)
    box = _box_slices(mask, px + 1) if px > 0 else None
    if box is None:
        return mask.copy()
    # Distance from every pixel of the box to the nearest masked pixel (masked pixels are the
    # zeros): 4 bytes a pixel of the box, not of the photo (784 MB at 196 MP for a retouch).
    unmasked = (~mask[box]).astype(np.uint8)
    distance = cv2.distanceTransform(unmasked, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    grown = mask.copy()
    grown[box] |= distance <= float(px)
    return grown


def feather_mask(
    mask: np.ndarray, px: int, smooth: bool = True, box: tuple[slice, slice] | None = None
) -> np.ndarray:
    """A soft alpha in [0, 1] that fades *inward* over ``px`` pixels from the mask's edge.

    It is exactly 0.0 everywhere outside ``mask`` (so those pixels stay bit-exact when blended)
    and 1.0 at least ``px`` pixels deep inside. The image border is not an edge: a mask that
    touches it stays opaque there, because there is nothing outside to blend with. With ``box``
    (row and column slices) only that part is computed and returned, with the same values.
    """
    mask = _as_mask(mask)
    if box is None:
        alpha = np.zeros(mask.shape, np.float32)
        area = _box_slices(mask, px + 2) if px > 0 else None
        if area is None:
            alpha[mask] = 1.0
        else:
            alpha[area] = _feather_local(mask[area], px, smooth)
        return alpha
    rows, cols = (range(*s.indices(n)) for s, n in zip(box, mask.shape, strict=True))
    if px <= 0:
        return mask[box].astype(np.float32)
    pad = px + 2  # see _feather_local: nothing farther away changes a value
    y0, x0 = max(0, rows.start - pad), max(0, cols.start - pad)
    y1, x1 = min(mask.shape[0], rows.stop + pad), min(mask.shape[1], cols.stop + pad)
    local = _feather_local(mask[y0:y1, x0:x1], px, smooth)
    return np.ascontiguousarray(
        local[rows.start - y0 : rows.stop - y0, cols.start - x0 : cols.stop - x0]
    )


def _feather_local(inside: np.ndarray, px: int, smooth: bool) -> np.ndarray:
    """Feather of a crop whose sides are the image's or lie at least px + 2 beyond the pixels
    that matter: an unmasked pixel farther away only gives a distance above px, which clips to
    1 all the same, so the crop's values equal the whole picture's."""
    # Distance from every masked pixel to the nearest unmasked one: 1 on the edge, 0 outside.
    distance = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    alpha = np.clip(distance / np.float32(px), 0.0, 1.0).astype(np.float32)
    if smooth:
        alpha = alpha * alpha * (3.0 - 2.0 * alpha)  # smoothstep: no visible kink at either end
    alpha[~inside] = 0.0
    return alpha


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
