"""Out-painting: grow the canvas and in-paint the new area, window by window.

The new area is the mask (no growing, so the original pixels stay bit-exact). Each side is
filled in bands moving outward; each band is cut into square windows along the edge that
overlap their neighbours, so every window sees real or already generated content. With several
samples, each variation is its own chain of windows (seed, seed+1, ...).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from engine.api import JobResult, OutpaintRequest, Sampling, Variation
from engine.models.family import Condition
from engine.pipelines.common import load
from engine.pipelines.inpaint import inpaint_variations
from engine.runtime.cancel import UserFacingError
from engine.runtime.jobs import JobContext

MAX_SIDE = 20_000


@dataclass(frozen=True)
class Band:
    """A rectangle of the new area, filled by one in-painting run (x1, y1 exclusive)."""

    x0: int
    y0: int
    x1: int
    y1: int


def extended_canvas(image: np.ndarray, request: OutpaintRequest) -> tuple[np.ndarray, np.ndarray]:
    """The bigger canvas (new area pre-filled by edge replication) and its new-area mask."""
    sides = (request.top, request.bottom, request.left, request.right)
    if min(sides) < 0:
        raise UserFacingError("Extensions must be zero or more pixels.")
    if max(sides) == 0:
        raise UserFacingError("Nothing to out-paint: extend at least one side.")
    h, w = image.shape[:2]
    new_h, new_w = h + request.top + request.bottom, w + request.left + request.right
    if max(new_h, new_w) > MAX_SIDE:
        raise UserFacingError(f"The result would be {new_w}×{new_h}; the limit is {MAX_SIDE} px.")
    canvas = cv2.copyMakeBorder(
        image, request.top, request.bottom, request.left, request.right, cv2.BORDER_REPLICATE
    )
    mask = np.ones((new_h, new_w), bool)
    mask[request.top : request.top + h, request.left : request.left + w] = False
    return canvas, mask


def bands(request: OutpaintRequest, size: tuple[int, int], window: int) -> Iterator[Band]:
    """Rectangles of the new area, outward from the image, each at most half a window deep."""
    new_h, new_w = size
    step = max(1, window // 2)
    along = max(1, window - window // 4)  # consecutive windows overlap by a quarter
    for side, depth in (("left", request.left), ("right", request.right),
                        ("top", request.top), ("bottom", request.bottom)):  # fmt: skip
        for start in range(0, depth, step):
            end = min(depth, start + step)
            length = new_w if side in ("top", "bottom") else new_h
            for a0 in range(0, length, along):
                a1 = min(length, a0 + along)
                if side == "left":
                    yield Band(request.left - end, a0, request.left - start, a1)
                elif side == "right":
                    x = new_w - request.right
                    yield Band(x + start, a0, x + end, a1)
                elif side == "top":
                    yield Band(a0, request.top - end, a1, request.top - start)
                else:
                    y = new_h - request.bottom
                    yield Band(a0, y + start, a1, y + end)


def run_outpaint(request: OutpaintRequest, ctx: JobContext) -> JobResult:
    started = time.perf_counter()
    image = np.asarray(request.image)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
        raise UserFacingError("The image must be 8-bit RGB or RGBA.")
    if request.samples < 1:
        raise UserFacingError("Ask for at least one sample.")
    canvas, new_area = extended_canvas(image, request)
    model = load(ctx, request.model)
    window = model.resolution
    variations = []
    for index in range(request.samples):
        seed = request.sampling.seed + index
        result = canvas.copy()
        remaining = new_area.copy()
        for band in bands(request, new_area.shape, window):
            mask = np.zeros_like(remaining)
            mask[band.y0 : band.y1, band.x0 : band.x1] = True
            mask &= remaining
            if not mask.any():
                continue
            ctx.check_cancelled()
            sampling = Sampling(**{**_fields(request.sampling), "seed": seed})
            (variation,) = inpaint_variations(
                ctx,
                model,
                result,
                mask,
                condition=Condition(class_label=request.class_label),
                sampling=sampling,
                samples=1,
                feather_px=request.feather_px,
                color_match=request.color_match,
                feather_from=remaining,
            )
            result = variation.image
            remaining &= ~mask
        variations.append(Variation(image=result, seed=seed))
    return JobResult(tuple(variations), time.perf_counter() - started)


def _fields(sampling: Sampling) -> dict:
    return {name: getattr(sampling, name) for name in Sampling.__dataclass_fields__}
