"""Pieces every pipeline shares: loading with progress, one sample with previews, labels."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from engine.api import UNCONDITIONAL_CLASS, ModelChoice, ModelLoading, Sampling, ScaleProgress
from engine.imaging.preview import decode_preview, thumbnail
from engine.imaging.tensors import tensor_to_image
from engine.models.var.loader import LoadedModel
from engine.runtime.cancel import UserFacingError
from engine.runtime.devices import make_generator
from engine.runtime.jobs import JobContext
from engine.samplers.hooks import TokenOverride
from engine.samplers.var import SampleOutput, sample_scales

# Turns a window-sized preview into what the user should see (e.g. pasted into the photo).
PreviewFrame = Callable[[np.ndarray], np.ndarray]


def load(ctx: JobContext, choice: ModelChoice) -> LoadedModel:
    """Fetch the model from the engine's cache, reporting bytes read while loading."""

    def progress(name: str, done: int, total: int) -> None:
        ctx.emit(ModelLoading(ctx.job_id, name, done, total))

    model = ctx.models.get(choice, progress)
    ctx.check_cancelled()
    return model


def class_label(model: LoadedModel, label: int) -> torch.Tensor:
    num_classes = model.var.cfg.num_classes
    if label == UNCONDITIONAL_CLASS or label < 0:
        label = num_classes
    if not 0 <= label <= num_classes:
        raise UserFacingError(
            f"Class {label} does not exist: this model knows classes 0–{num_classes - 1}."
        )
    return torch.tensor([label], device=model.device)


def sample_one(
    ctx: JobContext,
    model: LoadedModel,
    label: int,
    sampling: Sampling,
    seed: int,
    sample_index: int,
    num_samples: int,
    override: TokenOverride | None = None,
    frame: PreviewFrame | None = None,
) -> tuple[np.ndarray, SampleOutput]:
    """Sample one image (H, W, 3 uint8) at the model's resolution, emitting one preview a scale."""
    patch_nums = model.patch_nums
    num_scales = len(patch_nums)
    show = frame or (lambda image: image)

    def report(si: int, preview: np.ndarray) -> None:
        ctx.emit(
            ScaleProgress(ctx.job_id, sample_index, num_samples, si, num_scales, show(preview))
        )

    def on_scale(si: int, f_hat: torch.Tensor, ids: torch.Tensor) -> None:
        if si < num_scales - 1:
            report(si, decode_preview(model.vqvae, f_hat, patch_nums[si]))

    output = sample_scales(
        model.var,
        model.vqvae.quantize,
        class_label(model, label),
        cfg=sampling.cfg,
        top_k=sampling.top_k,
        top_p=sampling.top_p,
        smooth=sampling.smooth,
        generator=make_generator(model.device, seed),
        override=override,
        on_scale=on_scale,
        check_cancelled=ctx.check_cancelled,
    )
    with torch.inference_mode():
        image = tensor_to_image(model.vqvae.decode(output.f_hat))[0]
    report(num_scales - 1, thumbnail(image))
    return image, output


def token_arrays(output: SampleOutput) -> tuple[np.ndarray, ...]:
    """Per-scale fed token ids of the first sample, as numpy for the result."""
    return tuple(ids[0].cpu().numpy().copy() for ids in output.ids)
