"""Zero-shot masked next-scale in-painting on images of any size.

1. grow the user's mask, crop a square context window around it and resize it to the model;
2. encode the window into the multi-scale token pyramid;
3. at every scale sample all tokens, then teacher-force the source tokens wherever the token's
   footprint holds no masked pixel (the 1x1 scale is always forced, as in the reference);
4. decode, resize back, match colours on a ring just outside the mask, and composite with a
   mask feathered *inward*, so every pixel outside the grown mask comes back bit-exact.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from engine.api import InpaintRequest, JobResult, Sampling, Variation
from engine.imaging.compositing import (
    Window,
    boundary_ring,
    context_window,
    match_colors,
    paste_back,
)
from engine.imaging.masks import feather_mask, grow_mask, mask_bbox, token_keep_mask
from engine.models.family import Condition, FamilyModel, Grid, token_arrays, token_tensors
from engine.pipelines.common import load, sample_one
from engine.pipelines.quick_fill import is_quick_fill, quick_fill
from engine.runtime.cancel import UserFacingError
from engine.runtime.jobs import JobContext
from engine.samplers.hooks import TokenOverride

PREVIEW_SIDE = 512
COLOR_RING_PX = 12


@dataclass
class WindowJob:
    """One context window, prepared for the model."""

    window: Window
    side: int  # the square the window was padded to
    pad: tuple[int, int]  # (top, left) offset of the window inside that square
    source_ids: list[torch.Tensor]
    keep: list[torch.Tensor] | None  # None: everything is masked, plain generation


def validate(image: np.ndarray, mask: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
        raise UserFacingError("The image must be 8-bit RGB or RGBA.")
    if mask.shape != image.shape[:2]:
        raise UserFacingError(
            f"The mask is {mask.shape[1]}×{mask.shape[0]} but the image is "
            f"{image.shape[1]}×{image.shape[0]}; they must be the same size."
        )


def pad_to_square(pixels: np.ndarray, window: Window) -> tuple[np.ndarray, tuple[int, int]]:
    """Crop the window; if the image was too small for a square, mirror-pad it to one."""
    crop = pixels[window.y0 : window.y1, window.x0 : window.x1]
    h, w = crop.shape[:2]
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    if (h, w) == (side, side):
        return crop, (0, 0)
    border = cv2.BORDER_REFLECT_101 if min(h, w) > 1 else cv2.BORDER_REPLICATE
    padded = cv2.copyMakeBorder(
        crop.astype(np.uint8), top, side - h - top, left, side - w - left, border
    )
    if crop.dtype == bool:
        padded = padded.astype(bool)
    return padded, (top, left)


def resize(pixels: np.ndarray, side: int) -> np.ndarray:
    shrinking = pixels.shape[0] > side
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(pixels, (side, side), interpolation=interpolation)


def keep_masks(
    mask_square: np.ndarray, schedule: Sequence[Grid], rule: str = "strict"
) -> list[torch.Tensor] | None:
    """Per scale, True where the source token is kept (the 1x1 scale always is).

    "strict": a token with any masked pixel is regenerated. "reference": the VAR notebook's
    rule: the masked fraction on the finest grid, bilinearly resized per scale, keep if > 0.5.
    """
    if mask_square.all():
        return None
    if rule not in ("strict", "reference"):
        raise UserFacingError(f"Unknown token rule '{rule}': use strict or reference.")
    finest_h, finest_w = schedule[-1]
    keep_finest = 1 - cv2.resize(
        mask_square.astype(np.float32), (finest_w, finest_h), interpolation=cv2.INTER_AREA
    )
    keep = []
    for h, w in schedule:
        if h * w <= 3:
            grid = np.ones((h, w), bool)
        elif rule == "strict":
            grid = token_keep_mask(mask_square, h, w)
        else:
            resized = F.interpolate(
                torch.from_numpy(keep_finest)[None, None], size=(h, w), mode="bilinear"
            )
            grid = (resized[0, 0] > 0.5).numpy()
        keep.append(torch.from_numpy(grid.reshape(1, -1).copy()))
    return keep


@torch.inference_mode()
def prepare_window(
    model: FamilyModel, rgb: np.ndarray, mask: np.ndarray, window: Window, rule: str = "strict"
) -> WindowJob:
    square_rgb, pad = pad_to_square(rgb, window)
    square_mask, _ = pad_to_square(mask, window)
    model_rgb = resize(square_rgb, model.resolution)
    source_ids = model.encode_tokens(model_rgb)
    keep = keep_masks(square_mask, model.schedule, rule)
    return WindowJob(window, square_rgb.shape[0], pad, source_ids, keep)


def window_override(
    model: FamilyModel,
    job: WindowJob,
    keep_scales: int = 0,
    base_tokens: Sequence[np.ndarray] | None = None,
) -> TokenOverride | None:
    """Teacher forcing outside the mask, plus "vary details": whole coarse scales from a result."""
    source, keep = list(job.source_ids), job.keep
    sizes = [h * w for h, w in model.schedule]
    if keep_scales > 0:
        if base_tokens is None or len(base_tokens) != len(sizes):
            raise UserFacingError("Vary details needs the tokens of a result from this model.")
        keep = list(keep) if keep is not None else [None] * len(sizes)
        base = token_tensors(base_tokens)
        for si in range(min(keep_scales, len(sizes))):
            if base[si].shape[1] != sizes[si]:
                raise UserFacingError("Vary details needs the tokens of a result from this model.")
            source[si] = base[si]
            keep[si] = torch.ones(1, sizes[si], dtype=torch.bool)
        for si, mask in enumerate(keep):
            if mask is None:  # plain generation after the kept scales
                keep[si] = torch.zeros(1, sizes[si], dtype=torch.bool)
    if keep is None:
        return None
    return model.teacher_force(source, keep)


def to_window(generated: np.ndarray, job: WindowJob) -> np.ndarray:
    """Model-resolution output -> exactly the window's pixels (padding removed)."""
    square = cv2.resize(generated, (job.side, job.side), interpolation=cv2.INTER_CUBIC)
    top, left = job.pad
    return square[top : top + job.window.height, left : left + job.window.width]


def composite(
    original: np.ndarray,
    generated_window: np.ndarray,
    job: WindowJob,
    grown: np.ndarray,
    alpha: np.ndarray,
    color_match: bool,
) -> np.ndarray:
    """Blend the window into the original; ``alpha`` (window-sized) is 0 outside ``grown``."""
    w = job.window
    if color_match:
        region = grown[w.y0 : w.y1, w.x0 : w.x1]
        ring = boundary_ring(region, COLOR_RING_PX)
        if ring.any():
            reference = original[w.y0 : w.y1, w.x0 : w.x1, :3]
            generated_window = match_colors(generated_window, reference, region, ring)
    return paste_back(generated_window, w, original, alpha)


class PreviewCompositor:
    """Shows each scale's preview pasted into the window's own pixels, at most PREVIEW_SIDE.

    Only the window is ever touched (once, here): the preview event says which ``region`` of
    the photo it covers, so a 100 px edit of a 12 MP photo costs what it costs on a small one.
    """

    def __init__(self, original: np.ndarray, grown: np.ndarray, job: WindowJob):
        w = job.window
        self.scale = min(1.0, PREVIEW_SIDE / max(w.width, w.height))
        size = (max(1, round(w.width * self.scale)), max(1, round(w.height * self.scale)))
        crop = np.ascontiguousarray(original[w.slices][..., :3])
        self.base = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        inside = grown[w.slices].astype(np.uint8)
        self.mask = cv2.resize(inside, size, interpolation=cv2.INTER_NEAREST).astype(bool)
        self.job = job
        self.region = (w.x0, w.y0, w.x1, w.y1)

    def __call__(self, preview: np.ndarray) -> np.ndarray:
        s, (h, w) = self.scale, self.base.shape[:2]
        side = max(1, round(self.job.side * s))
        square = cv2.resize(preview, (side, side), interpolation=cv2.INTER_LINEAR)
        top, left = round(self.job.pad[0] * s), round(self.job.pad[1] * s)
        patch = square[top : top + h, left : left + w]
        frame = self.base.copy()
        ph, pw = patch.shape[:2]
        inside = self.mask[:ph, :pw]
        frame[:ph, :pw][inside] = patch[inside]
        return frame


def inpaint_variations(
    ctx: JobContext,
    model: FamilyModel,
    image: np.ndarray,
    grown: np.ndarray,
    *,
    condition: Condition,
    sampling: Sampling,
    samples: int,
    feather_px: int,
    color_match: bool,
    keep_scales: int = 0,
    base_tokens: Sequence[np.ndarray] | None = None,
    margin_frac: float = 0.25,
    token_rule: str = "strict",
) -> list[Variation]:
    """In-paint ``grown`` (already grown) in one context window; one result per seed.

    The seam is feathered inward from the edge of ``grown``. The alpha covers the window only
    (the mask lies inside it, away from any edge that is not the image's), not the photo.
    """
    window = context_window(mask_bbox(grown), image.shape[1::-1], model.resolution, margin_frac)
    job = prepare_window(model, image[..., :3], grown, window, token_rule)
    override = window_override(model, job, keep_scales, base_tokens)
    frame = PreviewCompositor(image, grown, job) if ctx.previews else None
    alpha = feather_mask(grown[window.slices], feather_px)
    variations = []
    for index in range(samples):
        seed = sampling.seed + index
        generated, sampled = sample_one(
            ctx, model, condition, sampling, seed, index, samples, override, frame,
            None if frame is None else frame.region,
        )  # fmt: skip
        result = composite(image, to_window(generated, job), job, grown, alpha, color_match)
        box = (window.x0, window.y0, window.x1, window.y1)  # nothing outside it was touched
        variations.append(Variation(result, seed, token_arrays(sampled), box))
    return variations


def run_inpaint(request: InpaintRequest, ctx: JobContext) -> JobResult:
    started = time.perf_counter()
    image, mask = np.asarray(request.image), np.asarray(request.mask, dtype=bool)
    validate(image, mask)
    grown = grow_mask(mask, request.grow_px)
    mask_bbox(grown)  # a clear error for an empty mask before any model is loaded
    if is_quick_fill(request.model):
        result = quick_fill(image, grown, request.model.model_id)
        variation = Variation(image=result, seed=request.sampling.seed)
        return JobResult((variation,), time.perf_counter() - started, ("Quick fill (no model)",))
    model = load(ctx, request.model)
    variations = inpaint_variations(
        ctx,
        model,
        image,
        grown,
        condition=Condition(class_label=request.class_label, text=request.prompt),
        sampling=request.sampling,
        samples=request.samples,
        feather_px=request.feather_px,
        color_match=request.color_match,
        keep_scales=request.keep_scales,
        base_tokens=request.base_tokens,
        token_rule=request.token_rule,
    )
    return JobResult(tuple(variations), time.perf_counter() - started)
