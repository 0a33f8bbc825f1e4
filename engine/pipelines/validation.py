"""The rules every request's settings obey, in one place: the CLI, the GUI and every runner
check the same numbers with the same plain sentences, before any model is loaded.

``validate_request`` is called by :func:`engine.pipelines.run_request` for every request type,
so a runner cannot forget it; callers may call it earlier (the CLI before it touches a file,
the GUI before it submits) to fail fast.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

from engine.api import (
    EditRequest,
    GenerateRequest,
    InpaintRequest,
    OutpaintRequest,
    Request,
    Sampling,
)
from engine.capabilities import FAMILIES
from engine.runtime.cancel import UserFacingError
from engine.store.catalogue import family_of

MAX_SAMPLES = 64
MAX_SEED = 2**63 - 1
TOKEN_RULES = ("strict", "reference")


def _integer(label: str, value: object, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise UserFacingError(f"{label} must be a whole number, not {value!r}.")
    if value < low or (high is not None and value > high):
        bound = f"at least {low}" if high is None else f"between {low} and {high}"
        raise UserFacingError(f"{label} must be {bound} (got {value}).")


def _number(label: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise UserFacingError(f"{label} must be a finite number, not {value!r}.")
    return float(value)


def validate_sampling(sampling: Sampling) -> None:
    cfg = _number("Guidance (cfg)", sampling.cfg)
    if cfg < 0:
        raise UserFacingError(f"Guidance (cfg) must be 0 or more (got {cfg:g}).")
    _integer("Top-k", sampling.top_k, 0)
    top_p = _number("Top-p", sampling.top_p)
    if not 0.0 <= top_p <= 1.0:
        raise UserFacingError(f"Top-p must be between 0 and 1 (got {top_p:g}).")
    tau = _number("Temperature (tau)", sampling.tau)
    if tau <= 0:
        raise UserFacingError(f"Temperature (tau) must be more than 0 (got {tau:g}).")
    _integer("The seed", sampling.seed, 0, MAX_SEED)
    _trade_offs(sampling)


def _trade_offs(sampling: Sampling) -> None:
    _integer("Scales without guidance", sampling.cfg_skip_last, 0)
    prune = _number("The pruning ratio", sampling.prune_ratio)
    if not 0.0 <= prune < 1.0:
        raise UserFacingError(f"The pruning ratio must be from 0 up to 1 (got {prune:g}).")
    _integer("Pruned scales", sampling.prune_scales, 0)
    if sampling.kv_budget is not None:
        budget = _number("The KV-cache budget", sampling.kv_budget)
        if not 0.0 < budget <= 1.0:
            raise UserFacingError(
                f"The KV-cache budget must be above 0 and at most 1 (got {budget:g})."
            )


def _mask(mask: object, image: object) -> None:
    mask, image = np.asarray(mask), np.asarray(image)
    if mask.ndim != 2:
        raise UserFacingError("The mask must be a single-channel picture.")
    if mask.shape != image.shape[:2]:
        raise UserFacingError(
            f"The mask is {mask.shape[1]}×{mask.shape[0]} but the image is "
            f"{image.shape[1]}×{image.shape[0]}; they must be the same size."
        )


def _edit(request: EditRequest) -> None:
    _image(request.image)
    if not isinstance(request.instruction, str) or not request.instruction.strip():
        raise UserFacingError("Type an instruction first, e.g. “make the sky stormy”.")
    _integer("The mask grow", request.grow_px, 0)
    _integer("The feather", request.feather_px, 0)
    if request.mask is not None:
        _mask(request.mask, request.image)


def _image(image: object) -> None:
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] not in (3, 4) or array.dtype != np.uint8:
        raise UserFacingError("The image must be 8-bit RGB or RGBA.")
    if 0 in array.shape:
        raise UserFacingError("The image has no pixels.")


def _prompt(request: GenerateRequest | InpaintRequest | OutpaintRequest) -> None:
    """A text-conditioned family paints what the prompt says: without one, stop before the
    gigabytes are loaded."""
    prompt = request.prompt
    if prompt is not None and not isinstance(prompt, str):
        raise UserFacingError(f"The prompt must be text, not {prompt!r}.")
    info = FAMILIES.get(family_of(request.model) or "")
    if info is not None and info.condition == "text" and not (prompt or "").strip():
        raise UserFacingError(
            f"{info.name} paints from a prompt: type what should appear, e.g. “a wooden bench”."
        )


def validate_request(request: Request) -> None:
    """Raise a one-sentence :class:`UserFacingError` for the first setting out of range.

    Transfers (downloads, imports) carry no settings to check.
    """
    if not isinstance(request, GenerateRequest | InpaintRequest | OutpaintRequest | EditRequest):
        return
    _integer("The number of samples", request.samples, 1, MAX_SAMPLES)
    validate_sampling(request.sampling)
    if isinstance(request, EditRequest):
        _edit(request)
        return
    _integer("The class", request.class_label, -1)
    if isinstance(request, GenerateRequest):
        _prompt(request)
        return
    _image(request.image)
    _integer("The feather", request.feather_px, 0)
    _prompt(request)
    if isinstance(request, InpaintRequest):
        _integer("The mask grow", request.grow_px, 0)
        _integer("Scales to keep", request.keep_scales, 0)
        if request.token_rule not in TOKEN_RULES:
            raise UserFacingError(
                f"Unknown token rule '{request.token_rule}': use strict or reference."
            )
        _mask(request.mask, request.image)
    elif isinstance(request, OutpaintRequest):
        for side in ("left", "right", "top", "bottom"):
            _integer(f"The {side} extension", getattr(request, side), 0)
