"""Real picture files of every kind a batch meets, written by Pillow into a test's folder."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, PngImagePlugin

XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
    b'22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/'
    b'1.1/"><dc:creator>Test Photographer</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>'
)


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _noise(h: int, w: int, c: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


def rotated_jpeg(path: Path) -> None:
    """Stored 40 wide × 30 high, EXIF orientation 6 (upright: 30 × 40), red at upright top-left.

    Orientation 6 means "rotate 90° clockwise to view": stored pixel (row r, col c) appears at
    upright (c, H-1-r), so upright top-left comes from the stored bottom-left corner.
    """
    stored = np.full((30, 40, 3), 40, np.uint8)
    stored[20:30, 0:10] = (230, 20, 20)  # stored bottom-left -> upright top-left
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "TestCam"
    exif.get_ifd(0x8769)[0xA002] = 40
    exif.get_ifd(0x8769)[0xA003] = 30
    Image.fromarray(stored).save(
        path, quality=95, exif=exif.tobytes(), icc_profile=srgb_profile(), xmp=XMP, dpi=(300, 300)
    )


def make_batch_tree(root: Path) -> dict[str, Path]:
    """A folder of good, bad and system files with nested sub-folders; name -> path."""
    nested = root / "nested" / "deeper"
    nested.mkdir(parents=True)
    files = {
        "plain": root / "plain.png",
        "rotated": root / "rotated.jpg",
        "deep16": root / "deep16.png",
        "cmyk": root / "cmyk.jpg",
        "palette": nested / "palette.gif",
        "alpha": root / "nested" / "alpha.webp",
        "corrupt": root / "corrupt.png",
        "empty": root / "empty.jpg",
        "text": root / "notes.jpg",
    }
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "a test picture")
    Image.fromarray(_noise(30, 40, 3, 1)).save(files["plain"], pnginfo=info, dpi=(72, 72))
    rotated_jpeg(files["rotated"])
    ramp = (np.arange(24 * 32, dtype=np.uint32).reshape(24, 32) * 85).astype(np.uint16)
    Image.fromarray(ramp).save(files["deep16"])
    Image.fromarray(_noise(20, 30, 3, 2)).convert("CMYK").save(files["cmyk"], quality=95)
    palette = Image.fromarray(_noise(16, 20, 3, 3)).quantize(16)
    palette.save(files["palette"], transparency=0)
    Image.fromarray(_noise(18, 26, 4, 4)).save(files["alpha"], lossless=True)
    good_png = io.BytesIO()
    Image.fromarray(_noise(30, 40, 3, 5)).save(good_png, "PNG")
    files["corrupt"].write_bytes(good_png.getvalue()[:200])
    files["empty"].write_bytes(b"")
    files["text"].write_text("this is not a picture\n")
    for junk in (root / "Thumbs.db", root / "nested" / ".DS_Store", root / "desktop.ini"):
        junk.write_bytes(b"\x00junk")
    return files


def sha256_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def leftovers(root: Path) -> list[str]:
    """Temporary files anywhere under ``root`` (``save_image`` names them ``.*.part``)."""
    return sorted(str(p) for p in root.rglob("*.part"))
