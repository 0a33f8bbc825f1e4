"""Loading and saving pictures: every odd file becomes 8-bit RGB(A), every save is atomic.

The editor works on 8-bit RGB or RGBA numpy arrays only, so this module is the one place that
knows about Pillow modes, EXIF orientation, colour profiles and bit depths. Anything it cannot
read or write safely becomes a ``UserFacingError`` naming the file and the problem.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import struct
import threading
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from engine.imaging.metadata import Extras, read_extras
from engine.imaging.modes import NOTE_16BIT, grey_to_rgb, to_pixels, was_16bit
from engine.imaging.outputs import file_label
from engine.runtime.cancel import UserFacingError

DEFAULT_MAX_PIXELS = 200_000_000
MASK_ROWS = 256  # rows of a mask file converted to booleans at a time
ORIENTATION_TAG = 0x0112
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
# DocumentName, ImageDescription, Make, Model, Orientation, Software, DateTime, Artist, Copyright
TIFF_DESCRIPTIVE_TAGS = (269, 270, 271, 272, 274, 305, 306, 315, 33432)

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
    name = file_label(path)
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
        sixteen_bit = was_16bit(im)  # the tile list is gone after load()
        try:
            frames = getattr(im, "n_frames", 1)
            im.load()
            exif = _upright_exif(im)
            extras = read_extras(im)
            upright = _upright(im)
            icc = im.info.get("icc_profile") or None
            pixels, icc, notes = to_pixels(upright, icc, name)
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
    name = file_label(path)
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
        return grey_to_rgb(array), None
    if array.ndim == 3 and array.shape[2] == 3:
        return array, None
    if array.ndim == 3 and array.shape[2] == 4:
        return np.ascontiguousarray(array[:, :, :3]), np.ascontiguousarray(array[:, :, 3])
    raise UserFacingError(f"The image must be RGB or RGBA, not an array of shape {array.shape}.")
