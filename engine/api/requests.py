"""Requests: frozen snapshots of what the caller wants done (numpy images, plain settings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from engine.api.memory import MemoryStrategy
from engine.capabilities import task_defaults

UNCONDITIONAL_CLASS = 1000  # VAR's null class: row 1000 of class_emb


def _sampling(task: str):
    """Default-factory of a request's sampling: the capability table's VAR defaults."""
    return lambda: Sampling(**task_defaults("var", task).sampling.as_kwargs())


def _grow(task: str) -> int:
    return task_defaults("var", task).grow_px


def _feather(task: str) -> int:
    return task_defaults("var", task).feather_px


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """Which model to run and where.

    Either ``model_id`` (a registry id such as ``"var-d16"`` or ``"demo"``) or explicit files by
    role, ``files=(("vae", path), ("transformer", path), ...)`` with their ``family``
    (``ModelChoice.from_files`` builds one). ``patch_nums`` overrides the schedule inferred from
    the checkpoint (only needed for non-released schedules).
    """

    model_id: str | None = None
    files: tuple[tuple[str, str], ...] = ()
    family: str = "var"  # of explicit files; a registry id knows its own
    device: str = "cpu"
    dtype: str = "fp32"  # fp32 | bf16 | fp16
    patch_nums: tuple[int, ...] | None = None
    memory: MemoryStrategy | None = None  # None: the planner picks one from free memory
    compile: bool = False  # torch.compile the transformer blocks (see engine.models.compiled)

    @classmethod
    def from_files(cls, family: str = "var", **kwargs: object) -> ModelChoice:
        """``ModelChoice.from_files(vae=..., transformer=..., device="cpu")``: roles as keywords."""
        fields = {
            k: kwargs.pop(k)
            for k in ("device", "dtype", "patch_nums", "memory", "compile")
            if k in kwargs
        }
        files = tuple(sorted((role, str(path)) for role, path in kwargs.items()))
        return cls(files=files, family=family, **fields)

    def file(self, role: str) -> str | None:
        return dict(self.files).get(role)


@dataclass(frozen=True, slots=True)
class Sampling:
    """Sampler settings, named as in VAR's ``autoregressive_infer_cfg``."""

    cfg: float = 1.5
    top_k: int = 900
    top_p: float = 0.96
    smooth: bool = False  # VAR's ``more_smooth`` Gumbel mixture
    seed: int = 0
    tau: float = 1.0  # softmax temperature of bitwise families (Infinity); VAR has none
    # Opt-in speed/quality trade-offs (off = the exact reference path; see benchmarks/RESULTS.md
    # for their measured PSNR/SSIM against it). Which families honour them: capabilities.
    cfg_skip_last: int = 0  # run the last N scales without the unconditional half (SkipVAR)
    prune_ratio: float = 0.0  # FastVAR: fraction of tokens skipped per block on the largest scales
    prune_scales: int = 2  # how many of the largest scales prune_ratio applies to
    kv_budget: float | None = None  # ScaleKV: share of the KV cache kept on the large scales


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    """Generation from a class (VAR) or a ``prompt`` (text families: Infinity); one image per
    sample, seeds ``seed, seed+1, ...``."""

    model: ModelChoice
    class_label: int = UNCONDITIONAL_CLASS
    samples: int = 1
    sampling: Sampling = field(default_factory=_sampling("generate"))
    prompt: str | None = None


@dataclass(frozen=True, slots=True)
class InpaintRequest:
    """Zero-shot masked next-scale in-painting of ``image`` where ``mask`` is True.

    ``keep_scales`` > 0 with ``base_tokens`` = "vary details": scales ``0..keep_scales-1`` are
    taken from a previous result's tokens and only the finer scales are resampled.
    ``token_rule`` "strict" regenerates a token if any pixel under it is masked (no source
    colour can leak into the hole); "reference" reproduces the official notebook's rule.
    """

    model: ModelChoice
    image: np.ndarray
    mask: np.ndarray
    class_label: int = UNCONDITIONAL_CLASS
    samples: int = 1
    sampling: Sampling = field(default_factory=_sampling("inpaint"))
    grow_px: int = _grow("inpaint")
    feather_px: int = _feather("inpaint")
    color_match: bool = True
    keep_scales: int = 0
    base_tokens: tuple[np.ndarray, ...] | None = None
    token_rule: str = "strict"  # or "reference": VAR notebook's bilinear > 0.5 per scale
    prompt: str | None = None  # what to paint, for a text family (Infinity); class models ignore it


@dataclass(frozen=True, slots=True)
class OutpaintRequest:
    """Extend ``image`` by the given number of pixels per side and generate the new area."""

    model: ModelChoice
    image: np.ndarray
    left: int = 0
    right: int = 0
    top: int = 0
    bottom: int = 0
    class_label: int = UNCONDITIONAL_CLASS
    samples: int = 1
    sampling: Sampling = field(default_factory=_sampling("outpaint"))
    feather_px: int = _feather("outpaint")
    color_match: bool = True
    prompt: str | None = None  # what the new area shows, for a text family (Infinity)


@dataclass(frozen=True, slots=True)
class UpscaleTarget:
    """How big an upscaled picture becomes: a factor, a width and/or height, a long-side cap.

    ``width`` or ``height`` alone keeps the aspect ratio; both fit the picture inside the box.
    ``max_long_side`` caps whatever the rest asks for (alone, it is the long side to reach).
    """

    scale: int | None = 4
    width: int | None = None
    height: int | None = None
    max_long_side: int | None = None

    def size_for(self, width: int, height: int) -> tuple[int, int]:
        """The output ``(width, height)`` for a ``width`` × ``height`` input, at least 1×1."""
        ratio = self.ratio_for(width, height)
        return max(1, round(width * ratio)), max(1, round(height * ratio))

    def ratio_for(self, width: int, height: int) -> float:
        ratios = []
        if self.width:
            ratios.append(self.width / width)
        if self.height:
            ratios.append(self.height / height)
        if ratios:
            ratio = min(ratios)
        elif self.scale:
            ratio = float(self.scale)
        else:
            ratio = self.max_long_side / max(width, height) if self.max_long_side else 1.0
        if self.max_long_side:
            ratio = min(ratio, self.max_long_side / max(width, height))
        return ratio


@dataclass(frozen=True, slots=True)
class BatchEntry:
    """One input file already placed: ``subfolder`` is where its output goes, relative to the
    output folder (the mirrored tree of the folder it was found in)."""

    source: str
    subfolder: str = ""


OUTPUT_FORMATS = ("same", "png", "jpeg", "webp", "tiff")
OVERWRITE_RULES = ("skip", "suffix", "replace")


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """Upscale many files into ``output_dir``; a journal there lets a rerun resume.

    ``inputs`` are files, folders (``recursive`` walks sub-folders, mirrored under the output
    folder) or placed ``BatchEntry`` items. ``model`` None = the fast Lanczos upscaler.
    ``shard`` (K, N), 1-based: this process takes every N-th input starting at the K-th.
    ``plan_only`` lists the inputs (a ``BatchPlanned`` event) and upscales nothing.
    """

    inputs: tuple[str | BatchEntry, ...]
    output_dir: str
    target: UpscaleTarget = UpscaleTarget()
    model: ModelChoice | None = None
    recursive: bool = False
    template: str = "{name}_x{scale}.{ext}"
    format: str = "same"  # one of OUTPUT_FORMATS
    quality: int = 95
    overwrite: str = "skip"  # one of OVERWRITE_RULES
    shard: tuple[int, int] = (1, 1)
    plan_only: bool = False
    fidelity: int | None = None  # with a model: as in UpscaleRequest
    seed: int = 0
    tile: int | None = None

    @property
    def lane(self) -> str:
        """Listing files waits behind no model job; upscaling shares the compute lane."""
        return "transfer" if self.plan_only else "compute"


@dataclass(frozen=True, slots=True)
class DownloadRequest:
    """Fetch the missing files of a registry model (resumable, verified) into the hub cache."""

    model_id: str
    lane: ClassVar[str] = "transfer"  # never queued behind (or ahead of) a model job


@dataclass(frozen=True, slots=True)
class ImportRequest:
    """Validate and register the checkpoints under ``path``; ``convert`` as in the CLI."""

    path: str
    convert: str | None = None
    lane: ClassVar[str] = "transfer"


@dataclass(frozen=True, slots=True)
class PlanRequest:
    """What ``choice`` needs at ``resolution`` (None: the model's own) on its device right now,
    and the strategy the planner picks: a :class:`~engine.api.events.MemoryPlanned` event
    answers (the GUI shows it before a run); nothing is loaded."""

    choice: ModelChoice
    resolution: int | None = None
    lane: ClassVar[str] = "transfer"  # a few milliseconds of arithmetic: never behind a model


@dataclass(frozen=True, slots=True)
class EditRequest:
    """Edit ``image`` by a text ``instruction`` (VAREdit); optionally only where ``mask`` is True.

    Without a mask the whole picture is edited (padded to a square like the reference, then
    cropped back); with one, tokens outside it are teacher-forced from the source and every
    pixel outside the grown mask comes back bit-exact.
    """

    model: ModelChoice
    image: np.ndarray
    instruction: str
    mask: np.ndarray | None = None
    grow_px: int = task_defaults("varedit", "edit").grow_px
    feather_px: int = task_defaults("varedit", "edit").feather_px
    samples: int = 1
    sampling: Sampling = field(
        default_factory=lambda: Sampling(**task_defaults("varedit", "edit").sampling.as_kwargs())
    )


@dataclass(frozen=True, slots=True)
class UpscaleRequest:
    """Super-resolution of ``image`` by ``scale`` (or to ``target_size`` = (width, height)).

    ``model=None`` is the fast Lanczos resize. With a model, ``fidelity`` is how many coarse
    scales are taken from the input (None: the ones the input really determines); ``tile`` is
    the window side in output pixels (None: the model's resolution).
    """

    image: np.ndarray
    scale: int = 4
    target_size: tuple[int, int] | None = None
    model: ModelChoice | None = None
    fidelity: int | None = None
    seed: int = 0
    colour_fix: str | None = None  # adain | wavelet | none; None: the family's (VARSR: adain)
    tile: int | None = None
    overlap: int | None = None
    neighbours: bool = True  # teacher-force each window's overlap with finished windows
    plan_only: bool = False  # answer with the planner's estimate (JobResult.notes), run nothing


Request = (
    GenerateRequest
    | InpaintRequest
    | OutpaintRequest
    | EditRequest
    | UpscaleRequest
    | DownloadRequest
    | ImportRequest
    | BatchRequest
    | PlanRequest
)
