"""Upscale a photo of any size and aspect: fast Lanczos, VARSR, or zero-shot SR on any family.

The input is resized (bicubic) to the exact target size first; a model then re-synthesises it
window by window (``engine.pipelines.upscale_tiles``), taking the coarse scales from the input
and generating the fine ones. Alpha is resized with Lanczos and put back untouched by the model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from engine.api import (
    JobResult,
    ModelChoice,
    Sampling,
    ScaleProgress,
    UpscaleRequest,
    Variation,
)
from engine.capabilities import task_defaults
from engine.imaging.thumbnail import thumbnail
from engine.imaging.tiles import TileLayout
from engine.models.family import FamilyModel
from engine.pipelines.common import load
from engine.pipelines.upscale_plan import UpscalePlan, plan_upscale
from engine.pipelines.upscale_tiles import (
    SRSettings,
    TileProgress,
    model_window_fn,
    resize,
    tile_sizes,
    tiled_apply,
    with_oom_retry,
)
from engine.runtime.cancel import UserFacingError
from engine.runtime.jobs import JobContext

# (dtype override or None) -> the loaded model; "fp32" asks for a full-precision copy.
ModelProvider = Callable[[str | None], FamilyModel]
SCALES = (2, 3, 4)


@dataclass(frozen=True)
class UpscaleResult:
    image: np.ndarray
    plan: UpscalePlan
    elapsed_s: float
    notes: tuple[str, ...] = ()


def cache_provider(cache, choice: ModelChoice) -> ModelProvider:
    """Models from the engine's cache; ``"fp32"`` re-fetches the same files in full precision."""

    def get(dtype: str | None) -> FamilyModel:
        return cache.get(choice if dtype is None else replace(choice, dtype=dtype))

    return get


def output_size(width: int, height: int, request: UpscaleRequest) -> tuple[int, int]:
    """(width, height) of the result: ``target_size`` if given, else x ``scale``."""
    if request.target_size is not None:
        tw, th = request.target_size
        if tw < 1 or th < 1:
            raise UserFacingError(f"Target size {tw}x{th} is not a valid image size.")
        return int(tw), int(th)
    if request.scale not in SCALES:
        raise UserFacingError(f"Scale {request.scale} is not supported; choose 2, 3 or 4.")
    return width * request.scale, height * request.scale


def default_fidelity(model: FamilyModel, factor: float) -> int:
    """Scales whose grid the low-resolution window still resolves (methods.md §A3): a window
    of ``resolution`` output pixels holds ``resolution / factor`` input pixels, i.e. that many
    latent cells over the VAE stride. VARSR reads its input through the prefix: none."""
    if model.family == "varsr":
        return 0
    stride = model.resolution / model.schedule[-1][1]
    cells = model.resolution / (factor * stride)
    return sum(1 for h, w in model.schedule if max(h, w) <= cells + 1e-9)


def sampling_for(model: FamilyModel, seed: int) -> Sampling:
    """The capability table's upscale sampler for the model's family (VARSR: greedy, CFG 6)."""
    defaults = task_defaults(model.family, "upscale").sampling
    return Sampling(defaults.cfg, defaults.top_k, defaults.top_p, seed=seed)


def plan_request(request: UpscaleRequest, model: FamilyModel | None) -> UpscalePlan:
    """The planner's estimate for ``request`` (tiles, time, memory) without running it."""
    h, w = request.image.shape[:2]
    return plan_upscale((w, h), output_size(w, h, request), model, request.tile, request.overlap)


def _lanczos(image: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize(size_wh, Image.LANCZOS))


def run_upscale(
    request: UpscaleRequest,
    get_model: ModelProvider | None = None,
    on_progress: TileProgress | None = None,
    check_cancelled: Callable[[], None] | None = None,
) -> UpscaleResult:
    """Run one upscale; ``get_model`` is needed unless ``request.model`` is None (Lanczos)."""
    start = time.perf_counter()
    image = request.image
    h, w = image.shape[:2]
    out_wh = output_size(w, h, request)
    rgb, alpha = image[..., :3], image[..., 3] if image.shape[-1] == 4 else None
    notes: list[str] = []
    if request.model is None or get_model is None:
        result = _lanczos(np.ascontiguousarray(rgb), out_wh)
        plan = plan_upscale((w, h), out_wh, None)
    else:
        model = get_model(None)
        factor = min(out_wh[0] / w, out_wh[1] / h)
        fidelity = request.fidelity
        if fidelity is None:
            fidelity = default_fidelity(model, factor)
        if not 0 <= fidelity <= len(model.schedule):
            raise UserFacingError(
                f"Fidelity {fidelity} is out of range for {model.name} "
                f"(0 to {len(model.schedule)} scales)."
            )
        colour = request.colour_fix or ("adain" if model.family == "varsr" else "wavelet")
        settings = SRSettings(
            fidelity, sampling_for(model, request.seed), request.seed, colour, request.neighbours
        )
        upsampled = resize(np.ascontiguousarray(rgb), out_wh)
        first = request.tile or model.resolution
        base_overlap = first // 4 if request.overlap is None else request.overlap

        def run(tile: int) -> np.ndarray:
            overlap = max(1, math.ceil(base_overlap * tile / first))
            layout = TileLayout(out_wh[1], out_wh[0], tile, overlap)
            fn = model_window_fn(get_model, settings, check_cancelled)
            return tiled_apply(upsampled, layout, fn, on_progress, check_cancelled)

        sizes = tile_sizes(first, max(16, model.resolution // 4))
        result = with_oom_retry(run, sizes, lambda t: notes.append(f"out of memory: {t}px tiles"))
        plan = plan_upscale((w, h), out_wh, model, request.tile, request.overlap)
        notes.append(f"fidelity {fidelity} of {len(model.schedule)} scales")
    if alpha is not None:
        result = np.dstack((result, _lanczos(np.ascontiguousarray(alpha), out_wh)))
    return UpscaleResult(result, plan, time.perf_counter() - start, tuple(notes))


def run_upscale_job(request: UpscaleRequest, ctx: JobContext) -> JobResult:
    """The engine's entry point: models from its cache, one progress event per window.

    Progress is reported as :class:`ScaleProgress` with ``sample_index`` = window index and
    ``num_samples`` = window count (one "scale" each), previews = that window's output.
    """
    get_model = None
    if request.model is not None:
        choice = request.model

        def get_model(dtype: str | None) -> FamilyModel:
            return load(ctx, choice if dtype is None else replace(choice, dtype=dtype))

    if request.plan_only:
        model = None if get_model is None else get_model(None)
        return JobResult((), 0.0, (plan_request(request, model).summary(),))

    def progress(done: int, total: int, window: np.ndarray) -> None:
        ctx.emit(ScaleProgress(ctx.job_id, done - 1, total, 0, 1, thumbnail(window)))

    result = run_upscale(request, get_model, progress, ctx.check_cancelled)
    notes = (result.plan.summary(), *result.notes)
    return JobResult((Variation(result.image, request.seed),), result.elapsed_s, notes)
