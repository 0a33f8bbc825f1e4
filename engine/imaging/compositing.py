"""Context windows, resizing in and out of the model, and the bit-exact paste-back.

Models see a square crop around the mask at their own resolution; the result is resized back
and blended with a feathered alpha. Pixels whose alpha is 0 are copied, never recomputed, so
they come back byte-identical.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from engine.imaging.masks import grow_mask
from engine.runtime.cancel import UserFacingError

MIN_RING_PIXELS = 16  # fewer known pixels than this give meaningless colour statistics
MIN_STD = 2.0  # below this a channel is flat: shift it, never stretch it
MAX_GAIN = 2.0  # a colour match may at most double or halve a channel's contrast


@dataclass(frozen=True, slots=True)
class Window:
    """A rectangle in image pixels, ends exclusive."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def slices(self) -> tuple[slice, slice]:
        """(rows, columns), for ``array[window.slices]``."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)


def _place(lo: int, hi: int, side: int, extent: int) -> tuple[int, int]:
    """A span of ``side`` centred on [lo, hi), shifted to lie inside [0, extent)."""
    if side >= extent:
        return 0, extent
    start = math.floor((lo + hi) / 2 - side / 2)
    start = min(max(start, 0), extent - side)
    # Centring with side >= hi - lo already contains [lo, hi); this only guards rounding.
    start = min(start, lo)
    start = max(start, hi - side)
    return start, start + side


def context_window(
    mask_bbox: tuple[int, int, int, int],
    image_size: tuple[int, int],
    model_res: int,
    margin_frac: float = 0.25,
) -> Window:
    """The square the model should see: the mask's box plus a margin, at least ``model_res``.

    Side = max(longest box side * (1 + 2 * margin_frac), model_res). The square is centred on
    the box and shifted (never shrunk) to lie inside the image. Only where the image itself is
    narrower than the side does the window span that whole axis and stop being square; the
    caller pads that case to a square. The window always contains the box.
    """
    x0, y0, x1, y1 = (int(v) for v in mask_bbox)
    width, height = int(image_size[0]), int(image_size[1])
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise UserFacingError(
            f"The mask area ({x0}, {y0})–({x1}, {y1}) is empty or outside the "
            f"{width}×{height} image."
        )
    longest = max(x1 - x0, y1 - y0)
    side = max(math.ceil(longest * (1.0 + 2.0 * max(0.0, margin_frac))), int(model_res), longest)
    wx0, wx1 = _place(x0, x1, side, width)
    wy0, wy1 = _place(y0, y1, side, height)
    return Window(wx0, wy0, wx1, wy1)


def _resize_image(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area filter along a shrinking axis, bicubic along an enlarging one."""
    src_h, src_w = pixels.shape[:2]
    if (src_w, src_h) == (width, height):
        return pixels.copy()
    array = np.ascontiguousarray(pixels)
    shrink_w, shrink_h = width <= src_w, height <= src_h
    if shrink_w and shrink_h:
        return cv2.resize(array, (width, height), interpolation=cv2.INTER_AREA)
    if not shrink_w and not shrink_h:
        return cv2.resize(array, (width, height), interpolation=cv2.INTER_CUBIC)
    # Mixed: shrink one axis with the area filter first, then enlarge the other.
    if shrink_w:
        array = cv2.resize(array, (width, src_h), interpolation=cv2.INTER_AREA)
    else:
        array = cv2.resize(array, (src_w, height), interpolation=cv2.INTER_AREA)
    return cv2.resize(array, (width, height), interpolation=cv2.INTER_CUBIC)


def _check_window(window: Window, shape: tuple[int, ...]) -> None:
    h, w = shape[:2]
    if not (0 <= window.x0 < window.x1 <= w and 0 <= window.y0 < window.y1 <= h):
        raise UserFacingError(f"The working area {window} does not fit the {w}×{h} image.")


def paste_back(
    generated: np.ndarray,
    window: Window,
    original: np.ndarray,
    alpha_mask: np.ndarray,
) -> np.ndarray:
    """Blend the generated window into a copy of the original: out = a*gen + (1-a)*orig.

    ``generated`` may be any size (usually the model's square or already the window's size);
    it is resized to the window. ``alpha_mask`` is the image's size or the window's. Only
    pixels with alpha > 0 inside the window are written, so every other pixel is
    byte-identical to ``original``. An RGBA original keeps its alpha
    channel everywhere: in-painting never invents transparency.
    """
    original = np.asarray(original)
    if original.dtype != np.uint8 or original.ndim != 3 or original.shape[2] not in (3, 4):
        raise UserFacingError("The image must be 8-bit RGB or RGBA.")
    alpha_mask = np.asarray(alpha_mask, dtype=np.float32)
    _check_window(window, original.shape)
    if alpha_mask.shape == original.shape[:2]:
        alpha = alpha_mask[window.slices]
    elif alpha_mask.shape == (window.height, window.width):
        alpha = alpha_mask  # the window's own alpha: no photo-sized float map needed
    else:
        raise UserFacingError("The blend mask and the image are not the same size.")
    generated = np.asarray(generated)
    if generated.ndim != 3 or generated.shape[2] < 3 or generated.dtype != np.uint8:
        raise UserFacingError("The generated picture must be 8-bit RGB.")
    out = original.copy()
    write = alpha > 0
    if not write.any():
        return out
    gen = _resize_image(np.ascontiguousarray(generated[:, :, :3]), window.width, window.height)
    region = out[window.slices]  # a view into ``out``
    a = alpha[write][:, None]
    blended = a * gen[write].astype(np.float32) + (1.0 - a) * region[write][:, :3].astype(
        np.float32
    )
    rgb = region[:, :, :3]
    rgb[write] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return out


def boundary_ring(mask: np.ndarray, px: int) -> np.ndarray:
    """Pixels outside ``mask`` but within ``px`` of it: known context right next to the seam."""
    mask = np.asarray(mask, dtype=bool)
    if px <= 0:
        return np.zeros(mask.shape, bool)
    return grow_mask(mask, px) & ~mask


def match_colors(
    generated: np.ndarray,
    reference: np.ndarray,
    region_mask: np.ndarray,
    ring_mask: np.ndarray,
) -> np.ndarray:
    """Shift and scale each channel of the generated region so it matches the original.

    The statistics come from ``ring_mask``, where both pictures should show the same thing;
    the correction is applied inside ``region_mask`` only. Flat channels are only shifted and
    the gain is bounded, so a near-constant ring can never blow the colours up.
    """
    generated = np.asarray(generated)
    reference = np.asarray(reference)
    ring = np.asarray(ring_mask, dtype=bool)
    region = np.asarray(region_mask, dtype=bool)
    if generated.shape[:2] != reference.shape[:2] or ring.shape != generated.shape[:2]:
        raise UserFacingError("The colour-match inputs are not the same size.")
    if region.shape != generated.shape[:2]:
        raise UserFacingError("The colour-match inputs are not the same size.")
    out = generated.copy()
    if int(ring.sum()) < MIN_RING_PIXELS or not region.any():
        return out
    gen_ring = generated[ring][:, :3].astype(np.float64)
    ref_ring = reference[ring][:, :3].astype(np.float64)
    mean_g, mean_r = gen_ring.mean(axis=0), ref_ring.mean(axis=0)
    std_g, std_r = gen_ring.std(axis=0), ref_ring.std(axis=0)
    gain = np.where(
        (std_g >= MIN_STD) & (std_r >= MIN_STD), std_r / np.maximum(std_g, MIN_STD), 1.0
    )
    gain = np.clip(gain, 1.0 / MAX_GAIN, MAX_GAIN)
    values = generated[region][:, :3].astype(np.float64)
    corrected = (values - mean_g) * gain + mean_r
    target = out[:, :, :3]
    target[region] = np.clip(np.rint(corrected), 0, 255).astype(np.uint8)
    return out
