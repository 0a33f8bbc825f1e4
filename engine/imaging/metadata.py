"""The metadata a picture carries besides EXIF and ICC: XMP, IPTC, PNG text, resolution (DPI).

``imageio.load_image`` reads them into :class:`Extras` and ``imageio.save_image`` writes back
whatever the output format can hold with Pillow's writers. Pillow cannot write IPTC into JPEG,
PNG or WebP (only TIFF has a tag for it), so :func:`save_options` also says what was dropped.
An upscaled copy keeps its print size: :func:`rescaled` multiplies the DPI by the scale and
:func:`resized_exif` updates the EXIF pixel dimensions and resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

from PIL import Image, PngImagePlugin

XMP_PNG_KEY = "XML:com.adobe.xmp"
TIFF_XMP, TIFF_IPTC = 700, 33723
PHOTOSHOP_IPTC = 0x0404  # the IPTC resource inside a JPEG's Photoshop (APP13) block
EXIF_IFD = 0x8769
X_RESOLUTION, Y_RESOLUTION, RESOLUTION_UNIT = 282, 283, 296
PIXEL_X, PIXEL_Y = 0xA002, 0xA003
NOTE_IPTC_DROPPED = "IPTC kept only in TIFF output (Pillow cannot write it here)"


@dataclass(frozen=True, slots=True)
class Extras:
    """Metadata other than EXIF and ICC, as raw as Pillow exposes it."""

    xmp: bytes | None = None
    iptc: bytes | None = None  # IPTC-IIM records
    dpi: tuple[float, float] | None = None
    text: tuple[tuple[str, str], ...] = ()  # PNG tEXt/iTXt/zTXt chunks

    def __bool__(self) -> bool:
        return bool(self.xmp or self.iptc or self.dpi or self.text)


def _as_bytes(value: object) -> bytes | None:
    if isinstance(value, bytes):
        return value or None
    if isinstance(value, str):
        return value.encode("utf-8") or None
    if isinstance(value, tuple) and value and all(isinstance(v, int) for v in value):
        return bytes(value)  # libtiff hands some byte tags back as a tuple of ints
    return None


def _dpi(im: Image.Image) -> tuple[float, float] | None:
    dpi = im.info.get("dpi")
    try:
        x, y = float(dpi[0]), float(dpi[1])
    except (TypeError, ValueError, IndexError):
        return None
    return (x, y) if x > 0 and y > 0 else None


def read_extras(im: Image.Image) -> Extras:
    """What ``im`` (just opened and loaded) carries; anything unreadable is left out."""
    info = im.info
    xmp = _as_bytes(info.get("xmp")) or _as_bytes(info.get(XMP_PNG_KEY))
    iptc = None
    photoshop = info.get("photoshop")
    if isinstance(photoshop, dict):
        iptc = _as_bytes(photoshop.get(PHOTOSHOP_IPTC))
    tags = getattr(im, "tag_v2", None)
    if tags is not None:  # TIFF
        xmp = xmp or _as_bytes(tags.get(TIFF_XMP))
        iptc = iptc or _as_bytes(tags.get(TIFF_IPTC))
    text: list[tuple[str, str]] = []
    if im.format == "PNG":
        for key, value in getattr(im, "text", {}).items():
            if key != XMP_PNG_KEY and isinstance(value, str):
                text.append((str(key), value))
    return Extras(xmp=xmp, iptc=iptc, dpi=_dpi(im), text=tuple(text))


def rescaled(extras: Extras, ratio: float) -> Extras:
    """The same metadata for a copy ``ratio`` times larger: same print size, so DPI × ratio."""
    if extras.dpi is None:
        return extras
    return replace(extras, dpi=(extras.dpi[0] * ratio, extras.dpi[1] * ratio))


def resized_exif(exif: bytes | None, size: tuple[int, int], ratio: float) -> bytes | None:
    """EXIF for the resized copy: pixel dimensions = ``size``, resolution × ``ratio``."""
    if not exif:
        return exif
    tags = Image.Exif()
    try:
        tags.load(exif)
        for tag in (X_RESOLUTION, Y_RESOLUTION):
            if tag in tags and float(tags[tag]) > 0:
                tags[tag] = Fraction(float(tags[tag]) * ratio).limit_denominator(10_000)
        sub = tags.get_ifd(EXIF_IFD)
        if PIXEL_X in sub or PIXEL_Y in sub:
            sub[PIXEL_X], sub[PIXEL_Y] = int(size[0]), int(size[1])
        return tags.tobytes()
    except Exception:  # a damaged block: keep it as it was rather than lose it
        return exif


def save_options(fmt: str, extras: Extras | None) -> tuple[dict[str, object], list[str]]:
    """Pillow save keywords writing ``extras`` in ``fmt``, and notes on what had to go."""
    if not extras:
        return {}, []
    options: dict[str, object] = {}
    notes: list[str] = []
    if extras.dpi and fmt in ("PNG", "JPEG", "TIFF"):
        options["dpi"] = extras.dpi
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        for key, value in extras.text:
            info.add_itxt(key, value)
        if extras.xmp:
            info.add_itxt(XMP_PNG_KEY, extras.xmp.decode("utf-8", "replace"))
        options["pnginfo"] = info
    elif fmt in ("JPEG", "WEBP") and extras.xmp:
        options["xmp"] = extras.xmp
    elif fmt == "TIFF":
        tiffinfo: dict[int, object] = {}
        if extras.xmp:
            tiffinfo[TIFF_XMP] = extras.xmp
        if extras.iptc:
            tiffinfo[TIFF_IPTC] = extras.iptc
        if tiffinfo:
            options["tiffinfo"] = tiffinfo
    if extras.iptc and fmt != "TIFF":
        notes.append(NOTE_IPTC_DROPPED)
    return options, notes
