"""Pure data that crosses the engine boundary: requests in, events out.

Everything here is a frozen dataclass holding numpy arrays and plain values, never torch tensors
or Qt types, so a request can be snapshotted on the GUI thread and an event handed back from the
engine thread without sharing mutable state.

Image convention: ``(H, W, 3)`` or ``(H, W, 4)`` ``uint8`` RGB(A), row-major, an owned copy.
Mask convention: ``(H, W)`` ``bool``, True = regenerate this pixel.

The package is the engine's public surface: ``requests`` holds what goes in, ``events`` what
comes out; both are re-exported here so callers write ``from engine.api import ...``.
"""

from engine.api.events import (
    ITEM_STATES,
    TERMINAL_EVENTS,
    BatchItemProgress,
    BatchPlanned,
    BatchProgress,
    BatchSummary,
    DownloadProgress,
    Event,
    JobCancelled,
    JobFailed,
    JobFinished,
    JobQueued,
    JobResult,
    JobStarted,
    MemoryPlanned,
    ModelLoading,
    ScaleProgress,
    TransferProgress,
    Variation,
)
from engine.api.memory import RESIDENT, MemoryPlan, MemoryStrategy
from engine.api.requests import (
    OUTPUT_FORMATS,
    OVERWRITE_RULES,
    UNCONDITIONAL_CLASS,
    BatchEntry,
    BatchRequest,
    DownloadRequest,
    EditRequest,
    GenerateRequest,
    ImportRequest,
    InpaintRequest,
    ModelChoice,
    OutpaintRequest,
    PlanRequest,
    Request,
    Sampling,
    UpscaleRequest,
    UpscaleTarget,
)

__all__ = [
    "RESIDENT",
    "MemoryPlan",
    "MemoryPlanned",
    "MemoryStrategy",
    "BatchEntry",
    "BatchItemProgress",
    "BatchPlanned",
    "BatchProgress",
    "BatchRequest",
    "BatchSummary",
    "DownloadProgress",
    "DownloadRequest",
    "EditRequest",
    "Event",
    "GenerateRequest",
    "ITEM_STATES",
    "ImportRequest",
    "InpaintRequest",
    "JobCancelled",
    "JobFailed",
    "JobFinished",
    "JobQueued",
    "JobResult",
    "JobStarted",
    "ModelChoice",
    "ModelLoading",
    "OUTPUT_FORMATS",
    "OVERWRITE_RULES",
    "OutpaintRequest",
    "PlanRequest",
    "Request",
    "Sampling",
    "ScaleProgress",
    "TERMINAL_EVENTS",
    "TransferProgress",
    "UNCONDITIONAL_CLASS",
    "UpscaleRequest",
    "UpscaleTarget",
    "Variation",
]
