"""GUI settings -> engine requests: frozen snapshots built on the GUI thread.

Pure functions (no Qt). The mask is copied here, so later strokes can never reach a job that
is already running; the image is not: the document never edits an image array in place (it
replaces it), so sharing it is safe and saves a whole-photo copy on the GUI thread per job.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from engine.api import (
    UNCONDITIONAL_CLASS,
    EditRequest,
    GenerateRequest,
    InpaintRequest,
    ModelChoice,
    OutpaintRequest,
    Sampling,
    UpscaleRequest,
    Variation,
)
from engine.capabilities import task_defaults

FAST_UPSCALE_ID = "lanczos"  # the model id of the no-model upscaler (app.engine_access)


@dataclass(frozen=True)
class JobSettings:
    """Everything the generate panel contributes to a request."""

    mode: str
    model: ModelChoice | None
    class_label: int = UNCONDITIONAL_CLASS
    instruction: str = ""
    seed: int = 0
    samples: int = 1
    cfg: float = task_defaults("var", "inpaint").sampling.cfg
    top_k: int = task_defaults("var", "inpaint").sampling.top_k
    top_p: float = task_defaults("var", "inpaint").sampling.top_p
    grow_px: int = task_defaults("var", "inpaint").grow_px
    feather_px: int = task_defaults("var", "inpaint").feather_px
    tau: float = task_defaults("var", "inpaint").sampling.tau
    limit_to_mask: bool = False  # edit mode: change only the painted area
    scale: int = 2  # upscale mode: the factor
    fidelity: int | None = None  # upscale mode: coarse scales taken from the photo (None: auto)

    @property
    def sampling(self) -> Sampling:
        return Sampling(
            cfg=self.cfg, top_k=self.top_k, top_p=self.top_p, seed=self.seed, tau=self.tau
        )


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image)  # immutable by the document's contract (see above)


def build_inpaint(settings: JobSettings, image: np.ndarray, mask: np.ndarray) -> InpaintRequest:
    return InpaintRequest(
        model=_model(settings),
        image=_rgb(image),
        mask=np.asarray(mask, bool).copy(),
        class_label=settings.class_label,
        samples=settings.samples,
        sampling=settings.sampling,
        grow_px=settings.grow_px,
        feather_px=settings.feather_px,
        prompt=settings.instruction or None,  # a text family's prompt; class models ignore it
    )


def build_outpaint(
    settings: JobSettings, image: np.ndarray, left: int, right: int, top: int, bottom: int
) -> OutpaintRequest:
    return OutpaintRequest(
        model=_model(settings),
        image=_rgb(image),
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        class_label=settings.class_label,
        samples=settings.samples,
        sampling=settings.sampling,
        feather_px=settings.feather_px,
        prompt=settings.instruction or None,
    )


def build_edit(settings: JobSettings, image: np.ndarray, mask: np.ndarray | None) -> EditRequest:
    """Edit by instruction; with "limit to mask" only the painted area may change."""
    limited = settings.limit_to_mask and mask is not None and bool(np.any(mask))
    return EditRequest(
        model=_model(settings),
        image=_rgb(image),
        instruction=settings.instruction,
        mask=np.asarray(mask, bool).copy() if limited else None,
        grow_px=settings.grow_px,
        feather_px=settings.feather_px,
        samples=settings.samples,
        sampling=settings.sampling,
    )


def build_upscale(
    settings: JobSettings, image: np.ndarray, plan_only: bool = False
) -> UpscaleRequest:
    """Upscale the whole picture; the fast tool runs without a model (Lanczos)."""
    model = _model(settings)
    return UpscaleRequest(
        image=_rgb(image),
        scale=settings.scale,
        model=None if model.model_id == FAST_UPSCALE_ID else model,
        fidelity=settings.fidelity,
        seed=settings.seed,
        plan_only=plan_only,
    )


def build_generate(settings: JobSettings) -> GenerateRequest:
    return GenerateRequest(
        model=_model(settings),
        class_label=settings.class_label,
        samples=settings.samples,
        sampling=settings.sampling,
        prompt=settings.instruction or None,
    )


def build_vary(
    settings: JobSettings,
    image: np.ndarray,
    mask: np.ndarray,
    variation: Variation,
    keep_scales: int,
) -> InpaintRequest:
    """ "Vary details from here": keep the coarse scales of ``variation``, resample the rest."""
    return replace(
        build_inpaint(settings, image, mask),
        keep_scales=keep_scales,
        base_tokens=tuple(np.asarray(t).copy() for t in variation.tokens),
    )


def _model(settings: JobSettings) -> ModelChoice:
    if settings.model is None:
        raise ValueError("no model selected")
    return settings.model
