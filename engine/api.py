"""Pure data that crosses the engine boundary: requests in, events out.

Everything here is a frozen dataclass holding numpy arrays and plain values, never torch tensors
or Qt types, so a request can be snapshotted on the GUI thread and an event handed back from the
engine thread without sharing mutable state.

Image convention: ``(H, W, 3)`` or ``(H, W, 4)`` ``uint8`` RGB(A), row-major, an owned copy.
Mask convention: ``(H, W)`` ``bool``, True = regenerate this pixel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

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

    @classmethod
    def from_files(cls, family: str = "var", **kwargs: object) -> ModelChoice:
        """``ModelChoice.from_files(vae=..., transformer=..., device="cpu")``: roles as keywords."""
        fields = {k: kwargs.pop(k) for k in ("device", "dtype", "patch_nums") if k in kwargs}
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


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    """Class-conditional generation; one image per sample, seeds ``seed, seed+1, ...``."""

    model: ModelChoice
    class_label: int = UNCONDITIONAL_CLASS
    samples: int = 1
    sampling: Sampling = field(default_factory=_sampling("generate"))


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


Request = (
    GenerateRequest
    | InpaintRequest
    | OutpaintRequest
    | EditRequest
    | UpscaleRequest
    | DownloadRequest
    | ImportRequest
)


# --------------------------------------------------------------------------------------------
# Results and events. Every event is emitted on the engine thread and carries its ``job_id``.


@dataclass(frozen=True, slots=True)
class Variation:
    """One finished image plus what is needed to reproduce or refine it."""

    image: np.ndarray
    seed: int
    tokens: tuple[np.ndarray, ...] = ()  # per-scale token ids (pn*pn,) int64, for "vary details"


@dataclass(frozen=True, slots=True)
class JobResult:
    variations: tuple[Variation, ...]
    elapsed_s: float
    notes: tuple[str, ...] = ()  # e.g. "16-bit input processed in 8-bit"
    model_ids: tuple[str, ...] = ()  # what a download or an import installed


@dataclass(frozen=True, slots=True)
class JobQueued:
    job_id: str


@dataclass(frozen=True, slots=True)
class JobStarted:
    job_id: str


@dataclass(frozen=True, slots=True)
class ModelLoading:
    """Checkpoint bytes read so far; ``bytes_total`` is 0 when unknown."""

    job_id: str
    name: str
    bytes_done: int
    bytes_total: int


@dataclass(frozen=True, slots=True)
class ScaleProgress:
    """One scale of one sample has formed; ``preview`` is a small RGB uint8 image."""

    job_id: str
    sample_index: int
    num_samples: int
    scale_index: int
    num_scales: int
    preview: np.ndarray | None


@dataclass(frozen=True, slots=True)
class DownloadProgress:
    """One progress event; byte counts cover the whole model, ``file_*`` the current file."""

    model_id: str
    filename: str
    file_index: int
    file_count: int
    file_done: int
    file_total: int | None
    done: int
    total: int
    rate_bps: float  # bytes per second over the recent past (0 while unknown)
    eta_s: float | None
    phase: str  # "checking" | "downloading" | "verifying" | "done"

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class TransferProgress:
    """Bytes moved by a download or an import; ``download`` has a download's full picture."""

    job_id: str
    name: str
    bytes_done: int
    bytes_total: int
    download: DownloadProgress | None = None


@dataclass(frozen=True, slots=True)
class JobFinished:
    job_id: str
    result: JobResult


@dataclass(frozen=True, slots=True)
class JobFailed:
    """``message`` is one plain sentence for the user; ``detail`` is the technical trace."""

    job_id: str
    message: str
    detail: str = ""
    expected: bool = False  # a foreseen failure (bad file, offline...): the message says it all


@dataclass(frozen=True, slots=True)
class JobCancelled:
    job_id: str


Event = (
    JobQueued
    | JobStarted
    | ModelLoading
    | ScaleProgress
    | TransferProgress
    | JobFinished
    | JobFailed
    | JobCancelled
)
TERMINAL_EVENTS = (JobFinished, JobFailed, JobCancelled)
