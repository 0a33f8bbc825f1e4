"""Seamless tiled super-resolution over an image of any size, for any model family.

The input is first resized to the target (bicubic); windows of the model's resolution are then
processed row-major. Each window is encoded by the model's own tokenizer from what is known
there: the resized input, overwritten by the output already produced by its neighbours. The
first ``fidelity`` scales (the ones the low-resolution input really determines) and, at every
finer scale, the tokens lying wholly inside already-produced output are teacher-forced; the
rest is generated. Results are colour-fixed against the resized input and feather-blended, so
overlaps agree by construction instead of being averaged after the fact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from engine.api import Sampling
from engine.imaging.tiles import Blender, TileLayout, Window, crop
from engine.models.family import Condition, FamilyModel
from engine.pipelines.colorfix import colour_fix
from engine.runtime.cancel import NonFiniteOutput, UserFacingError

# (window index, window count, that window's output) -> None
TileProgress = Callable[[int, int, np.ndarray], None]
# One window: (window, input crop, known-output crop, known mask) -> output crop (uint8)
WindowFn = Callable[[Window, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SRSettings:
    fidelity: int  # scales taken from the input
    sampling: Sampling
    seed: int
    colour: str = "wavelet"  # adain | wavelet | none
    neighbours: bool = True  # False: windows ignore each other (only the blend joins them)


def resize(rgb: np.ndarray, size_wh: tuple[int, int], method=Image.BICUBIC) -> np.ndarray:
    if (rgb.shape[1], rgb.shape[0]) == size_wh:
        return rgb
    return np.asarray(Image.fromarray(rgb).resize(size_wh, method))


def keep_masks(
    schedule: tuple[tuple[int, int], ...], known: np.ndarray, fidelity: int, device: torch.device
) -> list[torch.Tensor]:
    """Per scale ``(1, h*w)`` bool: all of the first ``fidelity`` scales, then the tokens whose
    whole area lies in ``known`` (already-produced output)."""
    known_t = torch.from_numpy(known.astype(np.float32))[None, None]
    masks = []
    for si, (h, w) in enumerate(schedule):
        if si < fidelity:
            keep = torch.ones(1, h * w, dtype=torch.bool)
        else:
            keep = (F.adaptive_avg_pool2d(known_t, (h, w)) >= 1 - 1e-6).reshape(1, h * w)
        masks.append(keep.to(device))
    return masks


def sr_window(
    model: FamilyModel,
    lr: np.ndarray,
    known_rgb: np.ndarray,
    known: np.ndarray,
    settings: SRSettings,
    seed: int,
    check_cancelled: Callable[[], None] | None = None,
) -> np.ndarray:
    """One window at the model's resolution: teacher-forced where known, generated elsewhere."""
    if not settings.neighbours:
        known = np.zeros_like(known)
    source = np.where(known[..., None], known_rgb, lr)
    keep = keep_masks(model.schedule, known, settings.fidelity, model.device)
    override = None
    if any(bool(k.any()) for k in keep):
        override = model.teacher_force(model.encode_tokens(source), keep)
    try:
        sampled = model.sample(
            Condition(reference=lr),
            settings.sampling,
            seed,
            override=override,
            check_cancelled=check_cancelled,
        )
    except RuntimeError as exc:  # NaN logits reach the sampler before the latent
        if "nan" in str(exc).lower() or "inf" in str(exc).lower():
            raise NonFiniteOutput(f"{model.name} produced non-finite values") from exc
        raise
    if not bool(torch.isfinite(sampled.latent).all()):
        raise NonFiniteOutput(f"{model.name} produced non-finite values")
    return colour_fix(model.decode(sampled.latent), lr, settings.colour)


def tiled_apply(
    upsampled: np.ndarray,
    layout: TileLayout,
    window_fn: WindowFn,
    on_progress: TileProgress | None = None,
    check_cancelled: Callable[[], None] | None = None,
) -> np.ndarray:
    """Run ``window_fn`` over every window in order and blend; later windows see earlier ones."""
    blender = Blender(layout)
    for index, window in enumerate(layout):
        if check_cancelled is not None:
            check_cancelled()
        lr = crop(upsampled, window)
        out = window_fn(window, lr, blender.current(window), crop(blender.done, window))
        blender.add(window, out)
        if on_progress is not None:
            on_progress(index + 1, len(layout), out)
    return blender.result()


def model_window_fn(
    get_model: Callable[[str | None], FamilyModel],
    settings: SRSettings,
    check_cancelled: Callable[[], None] | None = None,
) -> WindowFn:
    """A window function running the model at its resolution; NaN/inf is redone in fp32."""
    counter = iter(range(1 << 30))

    def run(window: Window, lr: np.ndarray, known_rgb: np.ndarray, known: np.ndarray):
        model = get_model(None)
        side, size = model.resolution, window.size
        if size != side:  # a smaller tile after an out-of-memory retry: zoom in to the model
            lr, known_rgb = resize(lr, (side, side)), resize(known_rgb, (side, side))
            known = resize(known.astype(np.uint8) * 255, (side, side), Image.NEAREST) > 127
        seed = settings.seed + next(counter)
        try:
            out = sr_window(model, lr, known_rgb, known, settings, seed, check_cancelled)
        except NonFiniteOutput:
            model = get_model("fp32")
            try:
                out = sr_window(model, lr, known_rgb, known, settings, seed, check_cancelled)
            except NonFiniteOutput as exc:
                raise UserFacingError(
                    f"{model.name}: the model produced invalid (NaN) pixels even in full "
                    "precision; the checkpoint may be damaged."
                ) from exc
        return resize(out, (size, size), Image.LANCZOS)

    return run


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def tile_sizes(first: int, smallest: int) -> list[int]:
    """Tile sizes to try, halving from ``first`` down to ``smallest``."""
    sizes = [first]
    while sizes[-1] // 2 >= smallest:
        sizes.append(sizes[-1] // 2)
    return sizes


def with_oom_retry(
    run: Callable[[int], np.ndarray], sizes: list[int], on_retry: Callable[[int], None] | None
) -> np.ndarray:
    """``run(tile)`` with each size in turn until one fits in memory."""
    for i, tile in enumerate(sizes):
        try:
            return run(tile)
        except Exception as exc:  # noqa: BLE001 - only out-of-memory is retried
            if not is_out_of_memory(exc) or i == len(sizes) - 1:
                if is_out_of_memory(exc):
                    raise UserFacingError(
                        f"Out of memory even with {tile}-pixel tiles; close other programs "
                        "or choose the CPU."
                    ) from exc
                raise
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            if on_retry is not None:
                on_retry(sizes[i + 1])
    raise AssertionError("unreachable")
