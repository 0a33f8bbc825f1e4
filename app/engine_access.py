"""The GUI's only doorway to engine helpers that are not jobs: image files, masks, models.

Pure Python (no Qt). Widgets import this one module instead of a dozen engine modules, so the
engine's surface the GUI depends on is listed in ``__all__`` below, in one place.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.requests import FAST_UPSCALE_ID
from engine.api import (
    UNCONDITIONAL_CLASS,
    DownloadProgress,
    DownloadRequest,
    ImportRequest,
    JobCancelled,
    JobFailed,
    JobFinished,
    MemoryPlan,
    MemoryPlanned,
    ModelChoice,
    PlanRequest,
    TransferProgress,
    UpscaleRequest,
)
from engine.capabilities import FAMILIES, TASKS, TaskDefaults, task_defaults, why_not
from engine.imaging import imageio, masks, outputs, saving
from engine.imaging.compositing import Window
from engine.imaging.imageio import LoadedImage as Picture
from engine.imaging.thumbnail import thumbnail
from engine.runtime.cancel import UserFacingError
from engine.runtime.progress import Throughput, format_eta
from engine.store import catalogue, installed, locations, registry, removal, verify
from engine.store.download import format_bytes
from engine.store.resources import resources_dir, sample_photo

__all__ = [
    "IMAGE_SUFFIXES",
    "RUN_DEVICE",
    "RUN_DTYPE",
    "FAST_UPSCALE",
    "FAST_UPSCALE_ID",
    "UpscaleRequest",
    "TASKS",
    "Throughput",
    "TaskDefaults",
    "UNCONDITIONAL_CLASS",
    "DownloadProgress",
    "DownloadRequest",
    "ImportRequest",
    "JobFailed",
    "JobFinished",
    "MemoryPlan",
    "MemoryPlanned",
    "PlanRequest",
    "TransferProgress",
    "JobCancelled",
    "ModelChoice",
    "ModelEntry",
    "ModelRow",
    "Picture",
    "UserFacingError",
    "Window",
    "engine_versions",
    "format_bytes",
    "format_eta",
    "grow_feather_preview",
    "grow_mask",
    "hub_offline",
    "installed_models",
    "load_image",
    "load_mask",
    "memory_device",
    "model_folder",
    "model_rows",
    "remove_model",
    "resources_dir",
    "save_image",
    "sample_photo",
    "suggest_model",
    "task_defaults",
    "thumbnail",
    "why_not",
    "save_mask",
    "verify_model",
]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class ModelEntry:
    """One model the user can pick; ``tasks`` says which modes it can run (the capability
    table's, for its family, unless the registry narrows them)."""

    label: str
    choice: ModelChoice
    tasks: frozenset[str] = field(default_factory=lambda: FAMILIES["var"].tasks)
    demo: bool = False
    hint: str = ""  # what this choice is, shown as the picker's tooltip
    family: str = "var"


QUICK_FILLS = (  # retouching without a model: always offered
    ModelEntry(
        "Quick fill - OpenCV Telea (no model)",
        ModelChoice(model_id="quick-fill"),
        FAMILIES["quick-fill"].tasks,
        family="quick-fill",
        hint="Classic in-painting from the hole's border, instant and model-free: best for "
        "small defects (dust, wires, blemishes); large holes come out smeared.",
    ),
    ModelEntry(
        "Quick fill - OpenCV Navier-Stokes (no model)",
        ModelChoice(model_id="quick-fill-ns"),
        FAMILIES["quick-fill"].tasks,
        family="quick-fill",
        hint="Model-free fluid-flow in-painting: continues edges into thin holes such as "
        "scratches; large holes come out smeared.",
    ),
)


FAST_UPSCALE = ModelEntry(
    "Fast upscale - Lanczos (no model)",
    ModelChoice(model_id=FAST_UPSCALE_ID),
    FAMILIES["lanczos"].tasks,
    family="lanczos",
    hint="Classical Lanczos resampling: instant and faithful, invents no detail.",
)  # upscaling without a model: always offered


# -- image files ---------------------------------------------------------------------------


def load_image(path: str | Path) -> Picture:
    """Decode a file upright as 8-bit RGB(A); raises UserFacingError with a plain sentence."""
    return imageio.load_image(path)


def save_image(
    pixels: np.ndarray,
    path: str | Path,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    quality: int = 95,
    overwrite: bool = False,
    source_path: str | Path | None = None,
) -> None:
    """Write atomically; never replaces an existing file unless ``overwrite``. Temporaries a
    killed earlier session left in that folder are removed first (as the CLI does)."""
    outputs.sweep_stale_temps(os.path.dirname(os.path.abspath(path)))
    saving.save_image(
        pixels,
        path,
        icc_profile=icc_profile,
        exif=exif,
        quality=quality,
        overwrite=overwrite,
        source_path=source_path,
    )


def load_mask(path: str | Path, shape: tuple[int, int]) -> np.ndarray:
    """A mask picture (white or opaque = regenerate) for an image of ``shape`` (H, W)."""
    return imageio.load_mask(path, (shape[1], shape[0]))


def save_mask(mask: np.ndarray, path: str | Path) -> None:
    save_image(
        np.where(mask, 255, 0).astype(np.uint8)[..., None].repeat(3, axis=2), path, overwrite=True
    )


# -- masks -----------------------------------------------------------------------------------


def grow_mask(mask: np.ndarray, grow_px: int) -> np.ndarray:
    """The area a job regenerates: the painted mask grown by ``grow_px`` (a true disc)."""
    return masks.grow_mask(mask, grow_px)


def grow_feather_preview(mask: np.ndarray, grow_px: int, feather_px: int) -> np.ndarray:
    """Float 0..1 coverage of what the engine will regenerate after grow + feather."""
    return masks.feather_mask(masks.grow_mask(mask, grow_px), feather_px).astype(np.float32)


# -- models ----------------------------------------------------------------------------------

RUN_DEVICE = "auto"  # jobs run on the best device present, in ModelChoice's default precision
RUN_DTYPE = "fp32"


@dataclass(frozen=True)
class ModelRow:
    """What the Models window shows for one registry model, read from disk only (no network)."""

    id: str
    title: str
    family: str
    status: str  # "installed" | "partial" | "not installed"
    size_bytes: int
    size_is_estimate: bool
    disk_bytes: int
    download_bytes: int  # more than size_bytes when files are built after download (T5)
    tasks: tuple[str, ...]
    license: str
    memory_gb: float | None
    notes: str
    download_blocker: str | None  # why Download cannot work for this model, if it cannot
    removable: bool


def installed_models() -> list[ModelEntry]:
    """Installed models the pipelines can run, in the registry's display order, then Quick fill.

    Quick fill needs no files, so even a build without the demo model can retouch small defects.
    """
    entries = []
    try:
        for spec in catalogue.all_models():
            family = FAMILIES.get(spec.family)
            if family is None or not family.runnable or installed.status(spec) != "installed":
                continue
            tasks = frozenset(spec.tasks) & family.tasks
            choice = ModelChoice(model_id=spec.id, device=RUN_DEVICE, dtype=RUN_DTYPE)
            demo = spec.family == "demo"
            entries.append(
                ModelEntry(spec.title, choice, tasks, demo, hint=spec.notes, family=spec.family)
            )
    except Exception:  # a broken model index must not take the GUI down
        log.exception("listing models failed")
    return [*entries, FAST_UPSCALE, *QUICK_FILLS]


def suggest_model(task: str) -> str | None:
    """Which released model to get for ``task``, with its download size (the smallest first)."""
    candidates = []
    for spec in catalogue.all_models(include_custom=False):
        family = FAMILIES.get(spec.family)
        if family is None or not family.runnable or task not in family.tasks:
            continue
        downloadable = spec.published and all(f.repo_id for f in spec.files)
        if task in spec.tasks and downloadable:
            candidates.append(spec)
    if not candidates:
        return None
    spec = min(candidates, key=lambda s: s.total_bytes)
    about = "about " if spec.size_is_estimate else ""
    return f"Get {spec.title} ({about}{format_bytes(spec.total_bytes)}) in the Models window."


def engine_versions() -> tuple[str, bool]:
    """torch's version and whether CUDA is usable (imports torch: for the self-test only)."""
    import torch

    return torch.__version__, torch.cuda.is_available()


def memory_device(device: str) -> str:
    """The device kind a job would really use (``auto`` resolved), for the memory estimate."""
    from engine.runtime.devices import resolve_device  # imports torch: only when the window opens

    try:
        return resolve_device(device).type
    except UserFacingError:  # a saved device that is gone: jobs would fail, estimate for CPU
        return "cpu"


def model_rows(device: str = RUN_DEVICE, dtype: str = RUN_DTYPE) -> list[ModelRow]:
    """Every registry model (released, then imported) with its local status and estimates."""
    kind = memory_device(device)
    return [
        ModelRow(
            id=spec.id,
            title=spec.title,
            family=spec.family,
            status=installed.status(spec),
            size_bytes=spec.total_bytes,
            size_is_estimate=spec.size_is_estimate,
            disk_bytes=installed.disk_usage(spec),
            download_bytes=spec.download_bytes,
            tasks=tuple(spec.tasks),
            license=spec.license,
            memory_gb=registry.memory_estimate_gb(spec, kind, dtype),
            notes=spec.notes,
            download_blocker=_download_blocker(spec),
            removable=spec.family != "demo",
        )
        for spec in catalogue.all_models()
    ]


def _download_blocker(spec: registry.ModelSpec) -> str | None:
    """Said before the user tries, rather than as an error after clicking Download."""
    if spec.family == "demo":
        return "The demo model ships with Finescale; there is nothing to download."
    if spec.custom:
        return "Imported from disk: there is nothing to download."
    if not spec.published:
        return "Not published on the hub: use Import… if you have the files."
    return None


def hub_offline() -> bool:
    """``HF_HUB_OFFLINE`` is set: downloads would fail, so the GUI suggests Import instead."""
    return locations.hub_offline()


def verify_model(model_id: str) -> list[verify.FileCheck]:
    """Re-hash a model's present files against the hashes known offline (index, registry)."""
    return verify.verify(catalogue.get_model(model_id))


def remove_model(model_id: str) -> int:
    """Delete a model's files that no other installed model needs; returns bytes freed."""
    return removal.remove(catalogue.get_model(model_id))


def model_folder(model_id: str) -> Path:
    """The nearest existing folder holding (or about to hold) a model's files, to show the user."""
    spec = catalogue.get_model(model_id)
    present = installed.resolve_files(spec)
    if present:
        return Path(next(iter(present.values()))).parent
    repo = next((f.repo_id for f in spec.files if f.repo_id), "")
    folder = locations.repo_folder(repo) if repo else locations.models_dir() / spec.id
    while not folder.is_dir() and folder.parent != folder:
        folder = folder.parent
    return folder
