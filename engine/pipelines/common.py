"""Pieces every pipeline shares: loading with progress, one sample with previews.

Written against :class:`~engine.models.family.FamilyModel` only: no pipeline names a family.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.api import ModelChoice, ModelLoading, Sampling, ScaleProgress
from engine.imaging.thumbnail import thumbnail
from engine.models.family import Condition, FamilyModel, Sampled
from engine.runtime.jobs import JobContext
from engine.samplers.hooks import TokenOverride

# Turns a window-sized preview into what the user should see (e.g. pasted into the photo).
PreviewFrame = Callable[[np.ndarray], np.ndarray]


def load(ctx: JobContext, choice: ModelChoice) -> FamilyModel:
    """Fetch the model from the engine's cache, reporting bytes read while loading."""

    def progress(name: str, done: int, total: int) -> None:
        ctx.emit(ModelLoading(ctx.job_id, name, done, total))

    model = ctx.models.get(choice, progress)
    ctx.check_cancelled()
    return model


def sample_one(
    ctx: JobContext,
    model: FamilyModel,
    condition: Condition,
    sampling: Sampling,
    seed: int,
    sample_index: int,
    num_samples: int,
    override: TokenOverride | None = None,
    frame: PreviewFrame | None = None,
    region: tuple[int, int, int, int] | None = None,
    *,
    window: tuple[int, int] = (0, 1),
) -> tuple[np.ndarray, Sampled]:
    """Sample one image (H, W, 3 uint8) at the model's resolution, emitting progress per scale.

    Previews (``model.preview``, then ``frame``, e.g. pasting into the photo's ``region``) are
    only made when ``ctx.previews`` says someone looks at them. ``window`` is (index, count)
    of this run among a tiled job's windows, for its progress.
    """
    num_scales = len(model.schedule)
    show = frame or (lambda image: image)

    def report(si: int, preview: np.ndarray | None) -> None:
        shown = None if preview is None else show(preview)
        where = None if preview is None else region
        ctx.emit(
            ScaleProgress(
                ctx.job_id,
                sample_index,
                num_samples,
                si,
                num_scales,
                shown,
                window_index=window[0],
                num_windows=window[1],
                region=where,
            )  # fmt: skip
        )

    def on_scale(si: int, latent) -> None:
        if si < num_scales - 1:
            report(si, model.preview(latent, si) if ctx.previews else None)

    sampled = model.sample(
        condition,
        sampling,
        seed,
        override=override,
        on_scale=on_scale,
        check_cancelled=ctx.check_cancelled,
    )
    image = model.decode(sampled.latent)
    report(num_scales - 1, thumbnail(image) if ctx.previews else None)
    return image, sampled
