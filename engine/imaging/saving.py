"""Saving pictures: formats, metadata, and atomic writes that never touch an input."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable

import numpy as np
from PIL import Image

from engine.imaging.metadata import Extras
from engine.imaging.metadata import save_options as extras_options
from engine.imaging.outputs import (
    check_output,
    create_new,
    file_label,
    remove_quietly,
    temp_path,
    write_error,
)
from engine.runtime.cancel import UserFacingError

# No dependable alpha: JPEG has none, and readers (Pillow too) take 32-bit BMP as RGBX.
NO_ALPHA_FORMATS = {"JPEG", "BMP"}


# Formats whose Pillow writer stores an ICC profile / EXIF block.
ICC_FORMATS = {"PNG", "JPEG", "WEBP", "TIFF"}


EXIF_FORMATS = {"PNG", "JPEG", "WEBP", "TIFF"}


def numbered_paths(path: str | os.PathLike[str], n: int) -> list[str]:
    """One output name per result: ``out.png`` for one, ``out_1.png`` … ``out_n.png`` for more."""
    path = os.fspath(path)
    if n <= 0:
        return []
    if n == 1:
        return [path]
    stem, ext = os.path.splitext(path)
    return [f"{stem}_{i}{ext}" for i in range(1, n + 1)]


def _flatten_on_white(rgba: np.ndarray) -> np.ndarray:
    """For formats without alpha: composite onto white, the usual paper colour."""
    alpha = rgba[:, :, 3:4].astype(np.float32) / 255.0
    rgb = rgba[:, :, :3].astype(np.float32)
    out = rgb * alpha + 255.0 * (1.0 - alpha)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _pil_image(pixels: np.ndarray, fmt: str, name: str) -> Image.Image:
    array = np.asarray(pixels)
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    if array.dtype != np.uint8:
        raise UserFacingError(f"{name}: only 8-bit images can be saved, not {array.dtype}.")
    if array.ndim == 2:
        return Image.fromarray(np.ascontiguousarray(array), "L")
    if array.ndim != 3 or array.shape[2] not in (3, 4) or 0 in array.shape:
        raise UserFacingError(f"{name}: cannot save an array of shape {array.shape} as an image.")
    if array.shape[2] == 4 and fmt in NO_ALPHA_FORMATS:
        array = _flatten_on_white(array)
    array = np.ascontiguousarray(array)
    return Image.fromarray(array, "RGBA" if array.shape[2] == 4 else "RGB")


def _save_options(
    fmt: str, icc_profile: bytes | None, exif: bytes | None, quality: int
) -> dict[str, object]:
    options: dict[str, object] = {}
    if icc_profile and fmt in ICC_FORMATS:
        options["icc_profile"] = icc_profile
    if exif and fmt in EXIF_FORMATS:
        options["exif"] = exif
    quality = int(min(100, max(1, quality)))
    if fmt == "JPEG":
        # Full-resolution colour above 90: an editor should not smear fine colour edges.
        options.update(quality=quality, subsampling=0 if quality >= 90 else 2)
    elif fmt == "WEBP":
        options.update(quality=quality, method=4)
    elif fmt == "PNG":
        options["compress_level"] = 6
    elif fmt == "TIFF":
        options["compression"] = "tiff_lzw"
    return options


def save_image(
    pixels: np.ndarray,
    path: str | os.PathLike[str],
    *,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    quality: int = 95,
    overwrite: bool = False,
    source_path: str | os.PathLike[str] | None = None,
    protected: Iterable[str | os.PathLike[str]] = (),
    extras: Extras | None = None,
    png_compression: int | None = None,
) -> list[str]:
    """Write a picture atomically: a temp file in the same folder, then a rename.

    A crash or a full disk therefore never leaves a half-written file, never touches an
    existing file unless ``overwrite`` is set, and never replaces ``source_path`` or any of
    ``protected`` (the job's inputs) at all. Ctrl+C or SIGTERM mid-save removes the temp file.
    ``png_compression`` (zlib level 0-9) overrides the default 6, e.g. for a batch where level
    3 writes a 2048² photo about 4× faster for ~10 % more bytes.
    Returns notes on metadata the format could not hold (e.g. IPTC in a PNG).
    """
    path = os.fspath(path)
    name = file_label(path)
    inputs = [os.fspath(p) for p in (source_path, *protected) if p is not None]
    fmt = check_output(path, overwrite, inputs)
    image = _pil_image(pixels, fmt, name)
    options = _save_options(fmt, icc_profile, exif, quality)
    if fmt == "PNG" and png_compression is not None:
        options["compress_level"] = int(min(9, max(0, png_compression)))
    more, notes = extras_options(fmt, extras)
    options.update(more)
    temp = temp_path(path)
    try:
        with os.fdopen(create_new(temp), "wb") as handle:
            image.save(handle, format=fmt, **options)
            handle.flush()
            os.fsync(handle.fileno())
        if not overwrite and os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "appeared while saving", path)
        os.replace(temp, path)
    except FileExistsError:
        remove_quietly(temp)
        raise UserFacingError(f"{name}: the file already exists; choose another name.") from None
    except OSError as exc:
        remove_quietly(temp)
        raise write_error(name, exc) from None
    except BaseException:
        remove_quietly(temp)
        raise
    return notes
