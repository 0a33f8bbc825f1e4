"""The GUI's only doorway to engine helpers that are not jobs: image files, masks, models.

Pure Python (no Qt). Engine modules that may not exist yet (``engine.imageio``, ``engine.masks``)
are imported lazily; until they land a small fallback keeps the app usable, and switching over is
a change in this file only. The model manager (registry, store, downloads) is imported directly.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from engine import download, model_store, registry
from engine.api import UNCONDITIONAL_CLASS, ModelChoice
from engine.cancel import CancelToken, JobCancelled, UserFacingError
from engine.download import DownloadProgress, format_bytes

__all__ = [
    "IMAGE_SUFFIXES",
    "RUN_DEVICE",
    "RUN_DTYPE",
    "UNCONDITIONAL_CLASS",
    "CancelToken",
    "DownloadProgress",
    "JobCancelled",
    "ModelChoice",
    "ModelEntry",
    "ModelRow",
    "Picture",
    "UserFacingError",
    "download_model",
    "format_bytes",
    "grow_feather_preview",
    "hub_offline",
    "import_models",
    "installed_models",
    "load_image",
    "load_mask",
    "memory_device",
    "model_folder",
    "model_rows",
    "remove_model",
    "save_image",
    "save_mask",
]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class Picture:
    """A decoded image file plus the metadata we must write back on save."""

    pixels: np.ndarray
    icc_profile: bytes | None = None
    exif: bytes | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelEntry:
    """One model the user can pick; ``tasks`` says which modes it can run."""

    label: str
    choice: ModelChoice
    tasks: frozenset[str] = field(
        default_factory=lambda: frozenset({"inpaint", "outpaint", "generate"})
    )
    demo: bool = False


# -- image files ---------------------------------------------------------------------------


def load_image(path: str | Path) -> Picture:
    """Decode a file; raises UserFacingError with one plain sentence on any failure."""
    try:
        from engine import imageio
    except ImportError:
        return _pil_load(Path(path))
    loaded = imageio.load_image(path)
    return Picture(
        np.ascontiguousarray(loaded.pixels),
        getattr(loaded, "icc_profile", None),
        getattr(loaded, "exif", None),
        tuple(getattr(loaded, "notes", ()) or ()),
    )


def save_image(
    pixels: np.ndarray,
    path: str | Path,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    quality: int = 95,
    overwrite: bool = False,
    source_path: str | Path | None = None,
) -> None:
    """Write atomically; never replaces an existing file unless ``overwrite``."""
    try:
        from engine import imageio
    except ImportError:
        _pil_save(pixels, Path(path), icc_profile, exif, quality, overwrite)
        return
    imageio.save_image(
        pixels,
        path,
        icc_profile=icc_profile,
        exif=exif,
        quality=quality,
        overwrite=overwrite,
        source_path=None if source_path is None else str(source_path),
    )


def load_mask(path: str | Path, shape: tuple[int, int]) -> np.ndarray:
    """A mask picture (white or opaque = regenerate) for an image of ``shape`` (H, W)."""
    try:
        from engine import imageio
    except ImportError:
        pass
    else:
        return imageio.load_mask(path, (shape[1], shape[0]))
    picture = load_image(path)
    pixels = picture.pixels
    if pixels.ndim == 3:
        if pixels.shape[2] == 4 and pixels[..., 3].min() < 255:
            pixels = pixels[..., 3]
        else:
            pixels = pixels[..., :3].max(axis=2)
    if pixels.shape != shape:
        pixels = cv2.resize(pixels, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return pixels >= 128


def save_mask(mask: np.ndarray, path: str | Path) -> None:
    save_image(
        np.where(mask, 255, 0).astype(np.uint8)[..., None].repeat(3, axis=2), path, overwrite=True
    )


# -- masks -----------------------------------------------------------------------------------


def grow_feather_preview(mask: np.ndarray, grow_px: int, feather_px: int) -> np.ndarray:
    """Float 0..1 coverage of what the engine will regenerate after grow + feather."""
    try:
        from engine.masks import feather_mask, grow_mask
    except ImportError:
        grown = _grow(mask, grow_px)
        return _feather(grown, feather_px)
    grown = np.asarray(grow_mask(mask, grow_px)).astype(bool)
    alpha = np.asarray(feather_mask(grown, feather_px))
    return alpha / 255.0 if alpha.dtype == np.uint8 else alpha.astype(np.float32)


def _grow(mask: np.ndarray, px: int) -> np.ndarray:
    if px <= 0:
        return mask.copy()
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


def _feather(mask: np.ndarray, px: int) -> np.ndarray:
    """Feather inward: 1 deep inside, falling to 0 at the edge, 0 outside."""
    if px <= 0:
        return mask.astype(np.float32)
    distance = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    return np.clip(distance / float(px), 0.0, 1.0).astype(np.float32)


# -- models ----------------------------------------------------------------------------------

RUNNABLE_FAMILIES = ("var", "demo")  # what engine.pipelines can run today
GUI_TASKS = frozenset({"inpaint", "outpaint", "generate"})
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
    tasks: tuple[str, ...]
    license: str
    memory_gb: float | None
    notes: str
    download_blocker: str | None  # why Download cannot work for this model, if it cannot
    removable: bool


def installed_models() -> list[ModelEntry]:
    """Installed models the pipelines can run, in the registry's display order."""
    entries = []
    try:
        for spec in registry.all_models():
            if spec.family not in RUNNABLE_FAMILIES or model_store.status(spec) != "installed":
                continue
            tasks = frozenset(spec.tasks) & GUI_TASKS
            choice = ModelChoice(model_id=spec.id, device=RUN_DEVICE, dtype=RUN_DTYPE)
            entries.append(ModelEntry(spec.title, choice, tasks, spec.family == "demo"))
    except Exception:  # a broken model index must not take the GUI down
        log.exception("listing models failed")
    return entries


def memory_device(device: str) -> str:
    """The device kind a job would really use (``auto`` resolved), for the memory estimate."""
    from engine.devices import resolve_device  # imports torch: only when the window opens

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
            status=model_store.status(spec),
            size_bytes=spec.total_bytes,
            size_is_estimate=spec.size_is_estimate,
            disk_bytes=model_store.disk_usage(spec),
            tasks=tuple(spec.tasks),
            license=spec.license,
            memory_gb=registry.memory_estimate_gb(spec, kind, dtype),
            notes=spec.notes,
            download_blocker=_download_blocker(spec),
            removable=spec.family != "demo",
        )
        for spec in registry.all_models()
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
    return model_store.hub_offline()


def download_model(
    model_id: str,
    progress: Callable[[DownloadProgress], None] | None,
    token: CancelToken,
) -> None:
    """Fetch a model's missing files into the hub cache (resumable; blocks: use a worker).

    ``progress`` is called on the calling thread. Raises ``JobCancelled`` after
    ``token.cancel()`` (the partial file stays for the next call) or ``UserFacingError``.
    """
    download.download_model(registry.get_model(model_id), progress, token)


def remove_model(model_id: str) -> int:
    """Delete a model's files that no other installed model needs; returns bytes freed."""
    return model_store.remove(registry.get_model(model_id))


def model_folder(model_id: str) -> Path:
    """The nearest existing folder holding (or about to hold) a model's files, to show the user."""
    spec = registry.get_model(model_id)
    present = model_store.resolve_files(spec)
    if present:
        return Path(next(iter(present.values()))).parent
    repo = next((f.repo_id for f in spec.files if f.repo_id), "")
    folder = model_store.repo_folder(repo) if repo else model_store.models_dir() / spec.id
    while not folder.is_dir() and folder.parent != folder:
        folder = folder.parent
    return folder


def import_models(
    path: str | Path,
    progress: Callable[[str, int, int], None] | None = None,
    token: CancelToken | None = None,
) -> list[str]:
    """Register the checkpoints in a file or folder (validated, hard-linked or copied).

    Slow for multi-GB files on another drive: call it off the GUI thread. ``progress`` gets
    ``(file name, bytes done, bytes total)`` while files are hashed or copied.
    """
    from engine.model_import import import_path

    return import_path(path, progress, token)


# -- fallbacks until engine.imageio exists ---------------------------------------------------


def _pil_load(path: Path) -> Picture:
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not path.is_file():
        raise UserFacingError(f"File not found: {path}")
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            icc, exif = image.info.get("icc_profile"), image.info.get("exif")
            has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            pixels = np.asarray(image.convert("RGBA" if has_alpha else "RGB")).copy()
    except UnidentifiedImageError:
        raise UserFacingError(f"{path.name} is not an image this app can read.") from None
    except Image.DecompressionBombError:
        raise UserFacingError(f"{path.name} is too large to open safely.") from None
    except OSError as exc:
        raise UserFacingError(f"Could not read {path.name}: {exc}") from None
    return Picture(pixels, icc, exif)


def _pil_save(
    pixels: np.ndarray,
    path: Path,
    icc_profile: bytes | None,
    exif: bytes | None,
    quality: int,
    overwrite: bool,
) -> None:
    from PIL import Image

    if path.exists() and not overwrite:
        raise UserFacingError(f"{path.name} already exists; choose another name.")
    suffix = path.suffix.lower()
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".png": "PNG"}.get(suffix)
    if fmt is None:
        raise UserFacingError(f"Cannot save as '{suffix}': use .png, .jpg or .webp.")
    image = Image.fromarray(np.ascontiguousarray(pixels))
    if fmt == "JPEG" and image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    options: dict = {"quality": int(quality)} if fmt in ("JPEG", "WEBP") else {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if exif and fmt in ("JPEG", "WEBP", "PNG"):
        options["exif"] = exif
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".finescale-", suffix=suffix, dir=path.parent)
    os.close(handle)
    try:
        image.save(temp, fmt, **options)
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        if exc.errno == 28:
            raise UserFacingError("The disk is full: nothing was written.") from None
        raise UserFacingError(f"Could not save {path.name}: {exc.strerror or exc}") from None
