"""The bad-input corpus: every kind of odd or hostile input a user or a file can hand the CLI.

``build(root)`` writes each kind into its own folder under ``root`` and returns a ``Case``: the
command line to run, whether it must succeed, and (for a refusal) which file the one-line
message must name and which words say the problem. Small files throughout, so the whole corpus
runs in seconds; generated fresh each run, nothing binary is checked in.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

QUICK = ["--model", "quick-fill"]


@dataclass
class Case:
    name: str
    argv: list[str]
    ok: bool
    blame: str = ""  # file name the message must contain
    problem: str = ""  # words the message must contain (lower case)
    inputs: list[Path] = field(default_factory=list)  # must stay byte-identical
    outputs: list[Path] = field(default_factory=list)  # must exist after success only
    size: tuple[int, int] | None = None  # (width, height) a successful output must have


def _rgb(w: int, h: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


def _mask_for(folder: Path, w: int, h: int, name: str = "mask.png") -> Path:
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4 : max(h // 4 + 1, h // 2), w // 4 : max(w // 4 + 1, w // 2)] = 255
    path = folder / name
    Image.fromarray(mask).save(path)
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _bomb_png(path: Path, w: int = 30000, h: int = 30000) -> None:
    """A tiny file whose header claims 900 megapixels."""
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _exif_jpeg(path: Path, orientation: int, w: int = 24, h: int = 16) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(_rgb(w, h, orientation)).save(path, exif=exif, quality=95)


def _corrupt_exif_jpeg(path: Path) -> None:
    broken = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x05\x00\x12\x01\x03\x00\x01\x00\x00\x00"
    Image.fromarray(_rgb(20, 20)).save(path, exif=broken + b"\xff" * 8)


# --- image kinds: (file name, writer, ok, problem words, upright size) ---------------------


def _image_kinds() -> list[tuple[str, Callable[[Path], None], bool, str, tuple[int, int]]]:
    def png(w, h, mode="RGB"):
        return lambda p: Image.fromarray(_rgb(w, h)).convert(mode).save(p)

    def sixteen(p):
        Image.fromarray((np.arange(20 * 20).reshape(20, 20) * 100).astype(np.uint16)).save(p)

    def animated(p):
        frames = [Image.fromarray(_rgb(20, 20, s)).convert("P") for s in range(2)]
        frames[0].save(p, save_all=True, append_images=frames[1:])

    def alpha(p):
        rgba = np.dstack([_rgb(20, 20), np.full((20, 20), 128, np.uint8)])
        Image.fromarray(rgba, "RGBA").save(p)

    def truncated(kind):
        def write(p):
            buffer = io.BytesIO()
            Image.fromarray(_rgb(40, 40)).save(buffer, kind)
            p.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])

        return write

    kinds = [
        ("zero.png", lambda p: p.write_bytes(b""), False, "empty", (0, 0)),
        ("truncated.png", truncated("PNG"), False, "truncated or corrupt", (0, 0)),
        ("truncated.jpg", truncated("JPEG"), False, "truncated or corrupt", (0, 0)),
        ("text.png", lambda p: p.write_text("just words\n"), False, "not an image", (0, 0)),
        ("bomb.png", _bomb_png, False, "megapixel limit", (0, 0)),
        ("fifo.png", lambda p: os.mkfifo(p), False, "a pipe", (0, 0)),
        ("urandom.png", lambda p: p.symlink_to("/dev/urandom"), False, "a device", (0, 0)),
        ("loop.png", lambda p: p.symlink_to(p.name), False, "cannot be read", (0, 0)),
        ("folder.png", lambda p: p.mkdir(), False, "a folder", (0, 0)),
        ("missing.png", lambda p: None, False, "does not exist", (0, 0)),
        ("corrupt_exif.jpg", _corrupt_exif_jpeg, True, "", (20, 20)),
        ("cmyk.jpg", lambda p: Image.fromarray(_rgb(20, 20)).convert("CMYK").save(p), True, "",
         (20, 20)),
        ("sixteen.png", sixteen, True, "", (20, 20)),
        ("palette.png", png(20, 20, "P"), True, "", (20, 20)),
        ("animated.gif", animated, True, "", (20, 20)),
        ("alpha.png", alpha, True, "", (20, 20)),
        ("one.png", png(1, 1), True, "", (1, 1)),
        ("line.png", png(10000, 1), True, "", (10000, 1)),
    ]  # fmt: skip
    for orientation in range(2, 9):
        upright = (16, 24) if orientation >= 5 else (24, 16)
        kinds.append(
            (f"exif{orientation}.jpg", lambda p, o=orientation: _exif_jpeg(p, o), True, "",
             upright)
        )  # fmt: skip
    return kinds


def _image_cases(root: Path) -> list[Case]:
    cases = []
    for file_name, write, ok, problem, size in _image_kinds():
        folder = root / f"image-{file_name}"
        folder.mkdir()
        image = folder / file_name
        write(image)
        mask = _mask_for(folder, *(size if ok else (20, 20)))
        out = folder / "out" / "result.png"
        out.parent.mkdir()
        argv = ["inpaint", "--image", str(image), "--mask", str(mask), "--out", str(out), *QUICK]
        inputs = [mask] + ([image] if image.is_file() and not image.is_symlink() else [])
        cases.append(Case(f"image-{file_name}", argv, ok, file_name, problem, inputs, [out], size))
    return cases


def _mask_cases(root: Path) -> list[Case]:
    cases = []

    def alpha_mask(p):
        rgba = np.zeros((20, 20, 4), np.uint8)
        rgba[5:10, 5:10, 3] = 255
        Image.fromarray(rgba, "RGBA").save(p)

    kinds = [
        ("wrong_size.png", lambda p: Image.fromarray(np.full((7, 9), 255, np.uint8)).save(p),
         False, "the mask is 9×7 pixels but the image is 20×20"),
        ("empty.png", lambda p: Image.fromarray(np.zeros((20, 20), np.uint8)).save(p), False,
         "the mask is empty"),
        ("text_mask.png", lambda p: p.write_text("no"), False, "not an image"),
        ("alpha_mask.png", alpha_mask, True, ""),
        ("sixteen_mask.png", lambda p: Image.fromarray(
            np.full((20, 20), 60000, np.uint16)).save(p), True, ""),
    ]  # fmt: skip
    for file_name, write, ok, problem in kinds:
        folder = root / f"mask-{file_name}"
        folder.mkdir()
        image, mask = folder / "photo.png", folder / file_name
        Image.fromarray(_rgb(20, 20)).save(image)
        write(mask)
        out = folder / "result.png"
        argv = ["inpaint", "--image", str(image), "--mask", str(mask), "--out", str(out), *QUICK]
        cases.append(
            Case(f"mask-{file_name}", argv, ok, file_name, problem, [image, mask], [out], (20, 20))
        )
    return cases


def _output_cases(root: Path) -> list[Case]:
    cases = []
    kinds = [
        ("missing-folder", "nowhere/o.png", [], "o.png", "does not exist"),
        ("gif", "o.gif", [], "o.gif", "'.gif'"),
        ("no-extension", "o", [], "o", "no extension"),
        ("is-the-image", "photo.png", ["--overwrite"], "photo.png", "one of the inputs"),
        ("is-the-mask", "mask.png", ["--overwrite"], "mask.png", "one of the inputs"),
        ("is-a-folder", "taken.png", [], "taken.png", "a folder has this name"),
        ("exists", "existing.png", [], "existing.png", "already exists"),
        ("symlink-loop", "loop.png", [], "loop.png", "already exists"),
    ]
    for name, out_name, flags, blame, problem in kinds:
        folder = root / f"out-{name}"
        folder.mkdir()
        image = folder / "photo.png"
        Image.fromarray(_rgb(20, 20)).save(image)
        mask = _mask_for(folder, 20, 20)
        (folder / "taken.png").mkdir()
        existing = folder / "existing.png"
        Image.fromarray(_rgb(5, 5, 9)).save(existing)
        (folder / "loop.png").symlink_to("loop.png")
        argv = ["inpaint", "--image", str(image), "--mask", str(mask),
                "--out", str(folder / out_name), *flags, *QUICK]  # fmt: skip
        cases.append(Case(f"out-{name}", argv, False, blame, problem, [image, mask, existing]))
    return cases


def _checkpoint_cases(root: Path, vae: str, var: str) -> list[Case]:
    def truncated(p):
        p.write_bytes(Path(var).read_bytes()[:5000])

    def legacy(p):
        torch.save({"a": torch.zeros(2)}, p, _use_new_zipfile_serialization=False,
                   pickle_protocol=4)  # fmt: skip

    def zip_cut(p):
        buffer = io.BytesIO()
        torch.save({"a": torch.zeros(1000)}, buffer)
        p.write_bytes(buffer.getvalue()[:1500])

    kinds = [
        ("text.pth", lambda p: p.write_text("hello\n"), "not a pytorch checkpoint"),
        ("zero.safetensors", lambda p: p.write_bytes(b""), "empty"),
        ("noise.safetensors", lambda p: p.write_bytes(os.urandom(4096)), "not a readable"),
        ("cut.safetensors", truncated, "not a readable"),
        ("cut.pth", zip_cut, "truncated or corrupt"),
        ("legacy.pth", legacy, "pickle format"),
        ("vae_as_var.safetensors", lambda p: p.write_bytes(Path(vae).read_bytes()),
         "not a var transformer"),
    ]  # fmt: skip
    cases = []
    for file_name, write, problem in kinds:
        folder = root / f"ckpt-{file_name}"
        folder.mkdir()
        bad = folder / file_name
        write(bad)
        out = folder / "g.png"
        argv = ["generate", "--vae", vae, "--var", str(bad), "--out", str(out)]
        cases.append(Case(f"ckpt-{file_name}", argv, False, file_name, problem, [bad]))
    folder = root / "import-text.pth"
    folder.mkdir()
    text = folder / "notes.pth"
    text.write_text("a text file\n")
    cases.append(Case("import-text.pth", ["models", "import", str(text)], False, "notes.pth",
                      "not a pytorch checkpoint", [text]))  # fmt: skip
    return cases


def build(root: Path, vae: str, var: str) -> list[Case]:
    """Every kind, each in its own folder under ``root`` (independent: safe to run at once)."""
    return (
        _image_cases(root)
        + _mask_cases(root)
        + _output_cases(root)
        + _checkpoint_cases(root, vae, var)
    )
