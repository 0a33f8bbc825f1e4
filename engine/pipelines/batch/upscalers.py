"""What a batch calls to enlarge one picture: the fast Lanczos upscaler, and the model hook.

An ``Upscaler`` takes upright 8-bit RGB or RGBA pixels and returns them at ``target``'s size.
It checks ``ctx`` for cancellation between strips (or tiles) and reports each one as a
``ScaleProgress`` (``scale_index`` of ``num_scales``), which the batch turns into per-file
progress; so a model upscaler plugs in without the batch knowing what it does.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

from engine.api import ModelChoice, ScaleProgress, UpscaleRequest, UpscaleTarget
from engine.runtime.jobs import JobContext

Upscaler = Callable[[np.ndarray, UpscaleTarget, JobContext], np.ndarray]

STRIP_PIXELS = 4_000_000  # output pixels per strip: cancel and progress about every 0.1 s


def _strips(out_height: int, out_width: int) -> list[tuple[int, int]]:
    rows = max(16, STRIP_PIXELS // max(1, out_width))
    return [(top, min(out_height, top + rows)) for top in range(0, out_height, rows)]


def _resample(
    im: Image.Image, size: tuple[int, int], top: int, bottom: int, in_height: int
) -> np.ndarray:
    """Output rows ``top:bottom`` of ``im`` resized to ``size``; identical to one whole resize
    (Pillow's filter reads source pixels outside the box, up to the image's edges)."""
    out_w, out_h = size
    box = (0.0, top * in_height / out_h, float(im.width), bottom * in_height / out_h)
    return np.asarray(im.resize((out_w, bottom - top), Image.Resampling.LANCZOS, box=box))


def lanczos_upscaler(pixels: np.ndarray, target: UpscaleTarget, ctx: JobContext) -> np.ndarray:
    """Classical Lanczos resize in strips; alpha is resized on its own so it stays exact where
    the picture is fully opaque or fully clear, and colour never gets premultiplied."""
    height, width = pixels.shape[:2]
    size = target.size_for(width, height)
    colour = Image.fromarray(np.ascontiguousarray(pixels[:, :, :3]), "RGB")
    alpha = None
    if pixels.shape[2] == 4:
        alpha = Image.fromarray(np.ascontiguousarray(pixels[:, :, 3]), "L")
    out = np.empty((size[1], size[0], pixels.shape[2]), np.uint8)
    strips = _strips(size[1], size[0])
    for index, (top, bottom) in enumerate(strips):
        ctx.check_cancelled()
        out[top:bottom, :, :3] = _resample(colour, size, top, bottom, height)
        if alpha is not None:
            out[top:bottom, :, 3] = _resample(alpha, size, top, bottom, height)
        ctx.emit(ScaleProgress(ctx.job_id, 0, 1, index, len(strips), None))
    return out


def model_upscaler(
    choice: ModelChoice, fidelity: int | None = None, seed: int = 0, tile: int | None = None
) -> Upscaler:
    """The upscaler that runs ``choice`` (VARSR, or zero-shot SR on any family) through the
    upscaling pipeline: tiles, colour fix, out-of-memory retry; its per-window progress events
    (window index as ``sample_index``) become this file's progress."""
    from engine.pipelines.upscale import run_upscale_job

    def upscale(pixels: np.ndarray, target: UpscaleTarget, ctx: JobContext) -> np.ndarray:
        height, width = pixels.shape[:2]
        request = UpscaleRequest(
            image=pixels, target_size=target.size_for(width, height), model=choice,
            fidelity=fidelity, seed=seed, tile=tile,
        )  # fmt: skip
        return run_upscale_job(request, ctx).variations[0].image

    return upscale


def upscaler_for(
    choice: ModelChoice | None, fidelity: int | None = None, seed: int = 0, tile: int | None = None
) -> Upscaler:
    """None = the fast Lanczos mode, which needs no model."""
    if choice is None:
        return lanczos_upscaler
    return model_upscaler(choice, fidelity, seed, tile)
