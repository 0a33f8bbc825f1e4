"""Pixel modes to 8-bit RGB(A): 16/32-bit, float, CMYK (with its profile), palette, grey."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageCms

from engine.runtime.cancel import UserFacingError

NOTE_16BIT = "16-bit image processed in 8-bit"


NOTE_32BIT = "32-bit image processed in 8-bit"


NOTE_FLOAT = "floating-point image processed in 8-bit"


NOTE_CMYK = "CMYK converted to RGB"


NOTE_CMYK_PROFILE = "CMYK converted to sRGB with its colour profile"


NOTE_PALETTE = "palette converted"


def was_16bit(im: Image.Image) -> bool:
    """Pillow silently narrows 16-bit RGB(A)/LA files to 8 bits; its tile rawmode still tells."""
    for tile in im.tile or ():
        args = tile.args if hasattr(tile, "args") else tile[3]
        rawmode = args[0] if isinstance(args, tuple) and args else args
        if isinstance(rawmode, str) and ";16" in rawmode:
            return True
    return False


def _scale_16bit(values: np.ndarray) -> np.ndarray:
    """0..65535 -> 0..255 with rounding (65535 -> 255, 32768 -> 128)."""
    wide = values.astype(np.uint32)
    return ((wide * 255 + 32767) // 65535).astype(np.uint8)


def _stretch(values: np.ndarray) -> np.ndarray:
    """Map the finite range of arbitrary numbers onto 0..255 (constant images become black)."""
    data = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(data.min()), float(data.max())
    if hi <= lo:
        return np.zeros(data.shape, np.uint8)
    return np.rint((data - lo) * 255.0 / (hi - lo)).astype(np.uint8)


def grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))


def _high_depth_grey(im: Image.Image) -> tuple[np.ndarray, str]:
    """Greyscale deeper than 8 bits ("I;16*", "I", "F") -> 8-bit RGB, and what happened."""
    values = np.asarray(im)
    if im.mode.startswith("I;16"):
        return grey_to_rgb(_scale_16bit(values)), NOTE_16BIT
    if im.mode == "F":
        finite = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=1.0, neginf=0.0)
        if finite.size and finite.min() >= 0.0 and finite.max() <= 1.0:
            grey = np.rint(finite * 255.0).astype(np.uint8)
        else:
            grey = _stretch(values)
        return grey_to_rgb(grey), NOTE_FLOAT
    # Mode "I" (32-bit int): usually 16-bit data widened by a decoder; else stretch the range.
    if values.size and values.min() >= 0 and values.max() <= 65535:
        return grey_to_rgb(_scale_16bit(values)), NOTE_16BIT
    return grey_to_rgb(_stretch(values)), NOTE_32BIT


def _cmyk_to_rgb(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None, str]:
    """CMYK -> RGB; with an embedded CMYK profile the conversion is colour-managed to sRGB.

    The CMYK profile cannot be kept: it describes four-channel data and would misrender RGB.
    """
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            target = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(im, source, target, outputMode="RGB")
            if converted is not None:
                return converted, None, NOTE_CMYK_PROFILE
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # an unusable profile: fall back to the plain conversion below
    return im.convert("RGB"), None, NOTE_CMYK


def to_pixels(
    im: Image.Image, icc: bytes | None, name: str
) -> tuple[np.ndarray, bytes | None, list[str]]:
    """Any Pillow mode -> (H, W, 3|4) uint8, the profile to keep, and notes for the user."""
    notes: list[str] = []
    mode = im.mode
    if mode.startswith("I") or mode == "F":
        pixels, note = _high_depth_grey(im)
        return pixels, icc, [note]
    has_transparency = "transparency" in im.info
    if mode == "P":
        has_alpha = has_transparency or (im.palette is not None and im.palette.mode == "RGBA")
        notes.append(NOTE_PALETTE)
        im = im.convert("RGBA" if has_alpha else "RGB")
    elif mode == "CMYK":
        im, icc, note = _cmyk_to_rgb(im, icc)
        notes.append(note)
    elif mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        im = im.convert("RGBA") if mode != "RGBA" else im
    elif mode in ("L", "1", "RGB") and has_transparency:
        im = im.convert("RGBA")
    elif mode in ("1", "L"):
        # Grey stays one channel until numpy widens it: Pillow's own RGB holds 4 bytes a pixel
        # (784 MB more at 196 MP).
        grey = np.asarray(im.convert("L") if mode == "1" else im)
        return grey_to_rgb(grey), icc, notes
    elif mode != "RGB":
        try:
            im = im.convert("RGB")
        except ValueError:
            raise UserFacingError(f"{name}: colour mode {mode} is not supported.") from None
    pixels = np.array(im, dtype=np.uint8, copy=True)
    if pixels.ndim == 2:
        pixels = grey_to_rgb(pixels)
    return np.ascontiguousarray(pixels), icc, notes
