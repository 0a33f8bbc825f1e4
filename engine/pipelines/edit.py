"""Instruction editing (VAREdit) on photos of any size and shape, optionally limited to a mask.

1. the working area: the whole picture, or with a mask a square context window around it
   (as in-painting does), padded to a square with white at the bottom/right like the
   reference, resized to the model (Lanczos, as the reference);
2. one edit per seed, the source as the scale-aligned reference; with a mask, every scale's
   bits are teacher-forced from the source wherever the token's footprint holds no masked
   pixel (the coarsest scales, whose one token spans the whole window, are always kept);
3. the result is resized back to the padded square, cropped to the area (no distortion) and
   pasted with in-painting's compositing: alpha 1 without a mask, else the grown mask feathered
   inward, so every pixel outside the grown mask is bit-exact.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from engine.api import EditRequest, JobResult, ScaleProgress, Variation
from engine.capabilities import why_not
from engine.imaging.compositing import Window, context_window, paste_back
from engine.imaging.masks import feather_mask, footprint_any, grow_mask, mask_bbox
from engine.models.family import Condition, FamilyModel, Grid, token_arrays
from engine.pipelines.common import load
from engine.pipelines.inpaint import PreviewCompositor
from engine.runtime.cancel import UserFacingError
from engine.runtime.jobs import JobContext
from engine.samplers.hooks import TokenOverride

PAD_VALUE = 255  # the reference pads non-square inputs with white


@dataclass
class EditArea:
    """The part of the photo the model sees, prepared at the model's resolution."""

    window: Window
    side: int  # the padded square's side in photo pixels
    model_rgb: np.ndarray  # (R, R, 3) uint8

    def to_window(self, generated: np.ndarray) -> np.ndarray:
        """Model output -> exactly the window's pixels: back to the square, padding cropped."""
        square = lanczos(generated, self.side)
        return square[: self.window.height, : self.window.width]

    @property
    def pad(self) -> tuple[int, int]:
        """(top, left) of the area in its square: the padding is at the bottom/right."""
        return 0, 0


def lanczos(rgb: np.ndarray, side: int) -> np.ndarray:
    if rgb.shape[:2] == (side, side):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((side, side), resample=Image.LANCZOS))


def pad_square(crop: np.ndarray, value) -> np.ndarray:
    """Pad at the bottom/right to a square (``value``: 255 for pixels, False for masks)."""
    h, w = crop.shape[:2]
    side = max(h, w)
    if h == w:
        return crop
    out = np.full((side, side, *crop.shape[2:]), value, dtype=crop.dtype)
    out[:h, :w] = crop
    return out


def prepare_area(image: np.ndarray, window: Window, resolution: int) -> EditArea:
    crop = np.ascontiguousarray(image[window.slices][..., :3])
    square = pad_square(crop, PAD_VALUE)
    return EditArea(window, square.shape[0], lanczos(square, resolution))


def keep_masks(mask_square: np.ndarray, schedule: tuple[Grid, ...]) -> list[torch.Tensor]:
    """Per scale (1, h*w) True = feed the source bits: no masked pixel under the token."""
    keep = []
    for h, w in schedule:
        grid = np.ones((h, w), bool) if h * w <= 3 else ~footprint_any(mask_square, h, w)
        keep.append(torch.from_numpy(grid.reshape(1, -1).copy()))
    return keep


def validate(request: EditRequest) -> tuple[np.ndarray, np.ndarray | None]:
    image = np.asarray(request.image)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
        raise UserFacingError("The image must be 8-bit RGB or RGBA.")
    if not request.instruction or not request.instruction.strip():
        raise UserFacingError("Type an instruction first, e.g. “make the sky stormy”.")
    if request.samples < 1:
        raise UserFacingError("Ask for at least one sample.")
    if request.mask is None:
        return image, None
    mask = np.asarray(request.mask, dtype=bool)
    if mask.shape != image.shape[:2]:
        raise UserFacingError(
            f"The mask is {mask.shape[1]}×{mask.shape[0]} but the image is "
            f"{image.shape[1]}×{image.shape[0]}; they must be the same size."
        )
    return image, grow_near(mask, request.grow_px)


def grow_near(mask: np.ndarray, px: int) -> np.ndarray:
    """``grow_mask`` computed only around the mask's box (a disc never reaches further), so a
    small mask on a 12 MP photo costs a small distance transform. An empty mask is an error."""
    x0, y0, x1, y1 = mask_bbox(mask)
    pad = max(0, px) + 1
    box = Window(max(0, x0 - pad), max(0, y0 - pad), min(mask.shape[1], x1 + pad),
                 min(mask.shape[0], y1 + pad))  # fmt: skip
    grown = np.zeros_like(mask)
    grown[box.slices] = grow_mask(mask[box.slices], px)
    return grown


def window_alpha(grown: np.ndarray, window: Window, feather_px: int) -> np.ndarray:
    """The paste alpha: the grown mask feathered inward, computed inside the window only (the
    window holds the whole grown mask, so the result is the same as on the full photo)."""
    alpha = np.zeros(grown.shape, np.float32)
    region = grown[window.slices]
    alpha[window.slices] = feather_mask(region, feather_px) * region
    return alpha


def masked_override(model: FamilyModel, area: EditArea, grown: np.ndarray) -> TokenOverride:
    region = pad_square(grown[area.window.slices], False)
    return model.teacher_force(
        model.encode_tokens(area.model_rgb), keep_masks(region, model.schedule)
    )


def edit_once(
    ctx: JobContext,
    model: FamilyModel,
    area: EditArea,
    request: EditRequest,
    index: int,
    override: TokenOverride | None,
    frame: PreviewCompositor,
):
    """One seed: emits a preview per scale (pasted into the photo), returns (window pixels,
    sampled)."""
    seed = request.sampling.seed + index
    count = len(model.schedule)

    def report(si: int, preview: np.ndarray) -> None:
        ctx.emit(ScaleProgress(ctx.job_id, index, request.samples, si, count, frame(preview)))

    def on_scale(si: int, latent: torch.Tensor) -> None:
        if si < count - 1:
            report(si, model.preview(latent, si))

    condition = Condition(text=request.instruction.strip(), reference=area.model_rgb)
    sampled = model.sample(
        condition,
        request.sampling,
        seed,
        override=override,
        on_scale=on_scale,
        check_cancelled=ctx.check_cancelled,
    )
    generated = model.decode(sampled.latent)
    report(count - 1, generated)
    return area.to_window(generated), sampled


def run_edit(request: EditRequest, ctx: JobContext) -> JobResult:
    started = time.perf_counter()
    image, grown = validate(request)
    height, width = image.shape[:2]
    model = load(ctx, request.model)
    reason = why_not(model.family, "edit", model.name)
    if reason is not None:
        raise UserFacingError(reason)
    if grown is None:
        window, alpha = Window(0, 0, width, height), np.ones((height, width), np.float32)
    else:
        window = context_window(mask_bbox(grown), (width, height), model.resolution)
        alpha = window_alpha(grown, window, request.feather_px)
    area = prepare_area(image, window, model.resolution)
    override = None if grown is None else masked_override(model, area, grown)
    shown = np.ones((height, width), bool) if grown is None else grown
    frame = PreviewCompositor(image, shown, area)
    variations = []
    for index in range(request.samples):
        pixels, sampled = edit_once(ctx, model, area, request, index, override, frame)
        result = paste_back(pixels, window, image, alpha)
        seed = request.sampling.seed + index
        variations.append(Variation(image=result, seed=seed, tokens=token_arrays(sampled)))
    return JobResult(tuple(variations), time.perf_counter() - started)
