"""Loading and saving pictures: every odd file becomes 8-bit RGB(A), every save is atomic.

The editor works on 8-bit RGB or RGBA numpy arrays only, so this module is the one place that
knows about Pillow modes, EXIF orientation, colour profiles and bit depths. Anything it cannot
read or write safely becomes a ``UserFacingError`` naming the file and the problem.
"""

from __future__ import annotations

import dataclasses
import errno
import io
import os
import stat
import struct
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from engine.imaging.metadata import Extras, read_extras
from engine.imaging.metadata import save_options as extras_options
from engine.imaging.outputs import (
    check_output,
    create_new,
    remove_quietly,
    temp_path,
    write_error,
)
from engine.runtime.cancel import UserFacingError

DEFAULT_MAX_PIXELS = 200_000_000
MASK_ROWS = 256  # rows of a mask file converted to booleans at a time
ORIENTATION_TAG = 0x0112
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
# DocumentName, ImageDescription, Make, Model, Orientation, Software, DateTime, Artist, Copyright
TIFF_DESCRIPTIVE_TAGS = (269, 270, 271, 272, 274, 305, 306, 315, 33432)

NOTE_16BIT = "16-bit image processed in 8-bit"
NOTE_32BIT = "32-bit image processed in 8-bit"
NOTE_FLOAT = "floating-point image processed in 8-bit"
NOTE_CMYK = "CMYK converted to RGB"
NOTE_CMYK_PROFILE = "CMYK converted to sRGB with its colour profile"
NOTE_PALETTE = "palette converted"
NOTE_FIRST_FRAME = "only the first frame was loaded"
NOTE_DAMAGED_METADATA = "damaged metadata (EXIF) was ignored"

# Magic bytes of the formats Finescale opens: such a file that Pillow cannot parse is damaged.
IMAGE_SIGNATURES = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",
    b"MM\x00*",
)

# No dependable alpha: JPEG has none, and readers (Pillow too) take 32-bit BMP as RGBX.
NO_ALPHA_FORMATS = {"JPEG", "BMP"}
# Formats whose Pillow writer stores an ICC profile / EXIF block.
ICC_FORMATS = {"PNG", "JPEG", "WEBP", "TIFF"}
EXIF_FORMATS = {"PNG", "JPEG", "WEBP", "TIFF"}


# Pillow's own decompression-bomb guard is a process-wide setting; it only changes under this lock.
_PIL_LIMIT_LOCK = threading.Lock()

# Register every Pillow plugin now, at import: done lazily, the first file that is not PNG/JPEG
# imports them all on whichever thread opens it, holding the GIL for ~0.1-0.2 s (a GUI stall).
Image.init()


@dataclass(frozen=True, slots=True)
class LoadedImage:
    """An opened picture, ready for editing, plus what is needed to save it faithfully."""

    pixels: np.ndarray  # (H, W, 3) or (H, W, 4) uint8, EXIF orientation already applied
    path: str | None
    format: str  # Pillow's format name, e.g. "PNG"
    icc_profile: bytes | None
    exif: bytes | None  # Orientation reset to 1: the pixels are already upright
    notes: tuple[str, ...]  # plain remarks about conversions, for the GUI's status line
    original_mode: str  # Pillow's mode before conversion, e.g. "I;16"
    extras: Extras = Extras()  # XMP, IPTC, PNG text, DPI

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def _name(path: str | os.PathLike[str]) -> str:
    return os.path.basename(os.fspath(path)) or os.fspath(path)


def _detail(exc: BaseException) -> str:
    """One short line from an exception, for the parenthesis in a user message."""
    text = " ".join(str(exc).split()).rstrip(".") or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _megapixels(limit: int) -> str:
    return f"{limit / 1e6:g}"


def _raise_pil_limit(max_pixels: int) -> None:
    """Make sure Pillow's own guard never refuses an image our (larger) limit allows."""
    with _PIL_LIMIT_LOCK:
        current = Image.MAX_IMAGE_PIXELS
        if current is not None and current < max_pixels:
            Image.MAX_IMAGE_PIXELS = max_pixels


def _header_size_unguarded(path: str) -> tuple[int, int]:
    """Read only the header of a file Pillow called a bomb, so the message can give its size."""
    with _PIL_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            with Image.open(path) as im:
                return im.size
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _check_readable(path: str, name: str) -> None:
    """Refuse before opening: opening a pipe would block and a device never ends."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise UserFacingError(f"{name}: the file does not exist.") from None
    except OSError as exc:
        raise UserFacingError(f"{name}: the file cannot be read ({_detail(exc)}).") from None
    if stat.S_ISDIR(info.st_mode):
        raise UserFacingError(f"{name}: this is a folder, not an image file.")
    if not stat.S_ISREG(info.st_mode):
        kind = "a pipe" if stat.S_ISFIFO(info.st_mode) else "a device or socket"
        raise UserFacingError(f"{name}: this is {kind}, not an image file; save it to a file.")
    if info.st_size == 0:
        raise UserFacingError(f"{name}: the file is empty.")


def _has_image_signature(path: str) -> bool:
    """Whether the file starts like a PNG/JPEG/GIF/WebP/TIFF/BMP, so a failure means damage."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return False
    if head[:4] == b"RIFF":
        return head[8:12] == b"WEBP"
    if head[:2] == b"BM":  # two letters are too common in text: also need the zero reserved field
        return head[6:10] == b"\x00\x00\x00\x00"
    return head.startswith(IMAGE_SIGNATURES)


def _too_large(name: str, size: tuple[int, int] | None, max_pixels: int) -> UserFacingError:
    if size is None:
        return UserFacingError(
            f"{name}: the image has more than the {_megapixels(max_pixels)} megapixel limit."
        )
    w, h = size
    return UserFacingError(
        f"{name}: {w}×{h} pixels is more than the {_megapixels(max_pixels)} megapixel limit."
    )


def _was_16bit(im: Image.Image) -> bool:
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


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))


def _high_depth_grey(im: Image.Image) -> tuple[np.ndarray, str]:
    """Greyscale deeper than 8 bits ("I;16*", "I", "F") -> 8-bit RGB, and what happened."""
    values = np.asarray(im)
    if im.mode.startswith("I;16"):
        return _grey_to_rgb(_scale_16bit(values)), NOTE_16BIT
    if im.mode == "F":
        finite = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=1.0, neginf=0.0)
        if finite.size and finite.min() >= 0.0 and finite.max() <= 1.0:
            grey = np.rint(finite * 255.0).astype(np.uint8)
        else:
            grey = _stretch(values)
        return _grey_to_rgb(grey), NOTE_FLOAT
    # Mode "I" (32-bit int): usually 16-bit data widened by a decoder; else stretch the range.
    if values.size and values.min() >= 0 and values.max() <= 65535:
        return _grey_to_rgb(_scale_16bit(values)), NOTE_16BIT
    return _grey_to_rgb(_stretch(values)), NOTE_32BIT


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


def _to_pixels(
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
        return _grey_to_rgb(grey), icc, notes
    elif mode != "RGB":
        try:
            im = im.convert("RGB")
        except ValueError:
            raise UserFacingError(f"{name}: colour mode {mode} is not supported.") from None
    pixels = np.array(im, dtype=np.uint8, copy=True)
    if pixels.ndim == 2:
        pixels = _grey_to_rgb(pixels)
    return np.ascontiguousarray(pixels), icc, notes


def _tiff_descriptive_exif(tags: Image.Exif) -> Image.Exif:
    """Only the descriptive tags of a TIFF: its structural ones (strips, bits…) are not EXIF."""
    exif = Image.Exif()
    for tag in TIFF_DESCRIPTIVE_TAGS:
        if tag in tags:
            exif[tag] = tags[tag]
    for pointer in (EXIF_IFD, GPS_IFD):
        if pointer in tags:
            exif.get_ifd(pointer).update(tags.get_ifd(pointer))
    return exif


def _upright_exif(im: Image.Image) -> bytes | None:
    """The EXIF block with Orientation = 1, because the pixels are rotated on load."""
    try:
        tags = im.getexif()
        if im.format == "TIFF" and "exif" not in im.info:
            exif = _tiff_descriptive_exif(tags)
        else:
            exif = Image.Exif()  # a copy: Pillow's cached tags still drive exif_transpose
            exif.load(tags.tobytes())
        if len(exif) == 0:
            return None
        if ORIENTATION_TAG in exif:
            exif[ORIENTATION_TAG] = 1
        return exif.tobytes()
    except Exception:  # a damaged EXIF block must not stop the picture from opening
        return None


def _upright(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a damaged orientation tag leaves the picture as stored."""
    try:
        return ImageOps.exif_transpose(im) or im
    except (ValueError, TypeError, KeyError, SyntaxError, struct.error):
        return im


def load_image(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Open any picture Pillow understands as upright 8-bit RGB or RGBA.

    The pixel count is checked from the header before decoding, so a hostile 50000×50000
    header is refused without allocating anything.
    """
    path = os.fspath(path)
    name = _name(path)
    _check_readable(path, name)
    _raise_pil_limit(max_pixels)
    # Pillow warns (UserWarning) about damaged metadata; the picture itself is fine, so the
    # warning becomes a note instead of leaking to the terminal.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = _decode(path, name, max_pixels)
    if any(issubclass(w.category, UserWarning) for w in caught):
        return dataclasses.replace(loaded, notes=(*loaded.notes, NOTE_DAMAGED_METADATA))
    return loaded


def _decode(path: str, name: str, max_pixels: int) -> LoadedImage:
    try:
        im = Image.open(path)
    except Image.DecompressionBombError:
        try:
            size = _header_size_unguarded(path)
        except Exception:
            size = None
        raise _too_large(name, size, max_pixels) from None
    except UnidentifiedImageError:
        if _has_image_signature(path):
            raise UserFacingError(f"{name}: the file is truncated or corrupt.") from None
        raise UserFacingError(f"{name}: not an image file Finescale can read.") from None
    except PermissionError:
        raise UserFacingError(f"{name}: Finescale is not allowed to read this file.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UserFacingError(
            f"{name}: the file is truncated or corrupt ({_detail(exc)})."
        ) from None
    with im:
        width, height = im.size
        if width * height > max_pixels:
            raise _too_large(name, im.size, max_pixels)
        if width <= 0 or height <= 0:
            raise UserFacingError(f"{name}: the image has no pixels.")
        original_mode = im.mode
        fmt = im.format or ""
        sixteen_bit = _was_16bit(im)  # the tile list is gone after load()
        try:
            frames = getattr(im, "n_frames", 1)
            im.load()
            exif = _upright_exif(im)
            extras = read_extras(im)
            upright = _upright(im)
            icc = im.info.get("icc_profile") or None
            pixels, icc, notes = _to_pixels(upright, icc, name)
        except UserFacingError:
            raise
        except MemoryError:
            raise UserFacingError(
                f"{name}: {width}×{height} pixels do not fit in this computer's memory."
            ) from None
        except Image.DecompressionBombError:
            raise _too_large(name, im.size, max_pixels) from None
        except Exception as exc:  # decoders raise many types for broken data
            raise UserFacingError(
                f"{name}: the file is truncated or corrupt ({_detail(exc)})."
            ) from None
    if sixteen_bit and NOTE_16BIT not in notes:
        notes.insert(0, NOTE_16BIT)
    if frames > 1:
        notes.append(NOTE_FIRST_FRAME)
    return LoadedImage(
        pixels=pixels,
        path=path,
        format=fmt,
        icc_profile=bytes(icc) if icc else None,
        exif=exif,
        notes=tuple(notes),
        original_mode=original_mode,
        extras=extras,
    )


def upright_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(width, height) as ``load_image`` will return it, from the header alone; None when the
    header cannot be read (``load_image`` then says why)."""
    try:
        with Image.open(os.fspath(path)) as im:
            width, height = im.size
            turned = im.getexif().get(ORIENTATION_TAG) in (5, 6, 7, 8)
    except Exception:  # any unreadable header: the full load reports it properly
        return None
    return (height, width) if turned else (width, height)


def load_mask(path: str | os.PathLike[str], size: tuple[int, int]) -> np.ndarray:
    """A painted mask file -> bool (H, W), True = regenerate.

    With a real alpha channel (not all opaque) the alpha decides; otherwise the brightness
    does. Either way values above 127 count as masked.
    """
    name = _name(path)
    loaded = load_image(path)
    pixels = loaded.pixels
    height, width = pixels.shape[:2]
    if (width, height) != (int(size[0]), int(size[1])):
        raise UserFacingError(
            f"{name}: the mask is {width}×{height} pixels but the image is "
            f"{int(size[0])}×{int(size[1])}."
        )
    if pixels.shape[2] == 4 and not (pixels[:, :, 3] == 255).all():
        return pixels[:, :, 3] > 127
    # Integer Rec. 601 luma, scaled by 1000 so a grey value v counts exactly when v > 127;
    # a band of rows at a time, so a 196 MP mask needs no 2.4 GB of int32 temporaries.
    masked = np.empty((height, width), bool)
    for top in range(0, height, MASK_ROWS):
        rgb = pixels[top : top + MASK_ROWS, :, :3].astype(np.int32)
        luma_x1000 = rgb[:, :, 0] * 299 + rgb[:, :, 1] * 587 + rgb[:, :, 2] * 114
        masked[top : top + MASK_ROWS] = luma_x1000 > 127_000
    return masked


def to_rgb(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Split RGB(A) or greyscale uint8 into (RGB, alpha or None); models only see RGB."""
    array = np.asarray(pixels)
    if array.dtype != np.uint8:
        raise UserFacingError(f"The image must be 8-bit, not {array.dtype}.")
    if array.ndim == 2:
        return _grey_to_rgb(array), None
    if array.ndim == 3 and array.shape[2] == 3:
        return array, None
    if array.ndim == 3 and array.shape[2] == 4:
        return np.ascontiguousarray(array[:, :, :3]), np.ascontiguousarray(array[:, :, 3])
    raise UserFacingError(f"The image must be RGB or RGBA, not an array of shape {array.shape}.")


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
    name = _name(path)
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
