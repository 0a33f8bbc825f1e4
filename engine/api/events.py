"""Results and events: emitted on an engine thread, each carrying its ``job_id``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.api.memory import MemoryPlan
from engine.api.requests import BatchEntry

# --------------------------------------------------------------------------------------------
# Results and events. Every event is emitted on the engine thread and carries its ``job_id``.


@dataclass(frozen=True, slots=True)
class Variation:
    """One finished image plus what is needed to reproduce or refine it."""

    image: np.ndarray
    seed: int
    tokens: tuple[np.ndarray, ...] = ()  # per-scale token ids (pn*pn,) int64, for "vary details"
    box: tuple[int, int, int, int] | None = None  # (x0, y0, x1, y1): the only pixels that differ


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
    """One scale of one sample has formed; ``preview`` is a small RGB uint8 image.

    A tiled job (out-painting) runs the scales once per window: ``window_index`` of
    ``num_windows``. ``done``/``total`` count scales over the whole job and never go back.
    ``region`` (x0, y0, x1, y1, in the job's image pixels) is the part of the picture the
    preview shows, for edits that only change a window of a large photo; None = all of it.
    ``preview`` is None when the engine was asked for no previews.
    """

    job_id: str
    sample_index: int
    num_samples: int
    scale_index: int
    num_scales: int
    preview: np.ndarray | None
    window_index: int = 0
    num_windows: int = 1
    region: tuple[int, int, int, int] | None = None

    @property
    def total(self) -> int:
        return self.num_samples * self.num_windows * self.num_scales

    @property
    def done(self) -> int:
        windows_done = self.sample_index * self.num_windows + self.window_index
        return windows_done * self.num_scales + self.scale_index + 1


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


@dataclass(frozen=True, slots=True)
class MemoryPlanned:
    """The answer to a ``PlanRequest``: bytes per component and the strategy that fits."""

    job_id: str
    plan: MemoryPlan


@dataclass(frozen=True, slots=True)
class BatchPlanned:
    """The files a batch will process, in order; what it passed over on purpose (hidden and
    system files, non-images in folders) and the entries it could not read (reported in the
    summary's failures: a folder it could not list may hold pictures the user expects)."""

    job_id: str
    output_dir: str
    items: tuple[BatchEntry, ...]
    passed_over: tuple[tuple[str, str], ...]  # (path, reason)
    problems: tuple[tuple[str, str], ...]  # (path, reason): unreadable, symlink loop...


ITEM_STATES = ("running", "done", "skipped", "failed")


@dataclass(frozen=True, slots=True)
class BatchItemProgress:
    """One file of a batch: ``fraction`` of it done while ``state`` is "running"; at the end
    its output (done), or the reason it was skipped or failed. A done file carries ``before``
    and ``after``: the centre of the output (at most 128² pixels) and the input region it came
    from, so a GUI can compare them without decoding either file again."""

    job_id: str
    index: int
    total: int
    source: str
    state: str  # one of ITEM_STATES
    fraction: float = 0.0
    output: str = ""
    reason: str = ""
    notes: tuple[str, ...] = ()
    before: np.ndarray | None = None
    after: np.ndarray | None = None


@dataclass(frozen=True, slots=True)
class BatchProgress:
    """The whole batch: ``finished`` of ``total`` files, ETA from the throughput measured so far
    (``eta_s`` is None until one file has been upscaled)."""

    job_id: str
    finished: int
    total: int
    eta_s: float | None
    images_per_minute: float | None


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """The end of a batch; ``stopped`` says why it ended early ("" = it ran to the end)."""

    job_id: str
    output_dir: str
    done: tuple[tuple[str, str], ...]  # (source, output)
    skipped: tuple[tuple[str, str], ...]  # (source, reason)
    failed: tuple[tuple[str, str], ...]  # (source, reason)
    elapsed_s: float
    stopped: str = ""

    @property
    def all_succeeded(self) -> bool:
        return not self.failed and not self.stopped


Event = (
    JobQueued
    | JobStarted
    | ModelLoading
    | ScaleProgress
    | TransferProgress
    | JobFinished
    | JobFailed
    | JobCancelled
    | BatchPlanned
    | MemoryPlanned
    | BatchItemProgress
    | BatchProgress
    | BatchSummary
)
TERMINAL_EVENTS = (JobFinished, JobFailed, JobCancelled)
