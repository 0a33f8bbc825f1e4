"""``finescale upscale`` end to end: real files in, real files out."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageCms

from engine.cli.main import main
from tests.engine.varsr.conftest import FIXTURES
from tests.engine.varsr.test_parity import assert_png_close


def test_varsr_files_x4_give_the_reference_image(varsr_files, tmp_path):
    """A single 128x128 input with VARSR's released files and --scale 4 = sr_final.png."""
    out = tmp_path / "out"
    args = ["upscale", str(FIXTURES / "lr.png"), "--scale", "4", "--out", str(out)]
    args += ["--transformer", varsr_files["VARSR.pth"], "--vae", varsr_files["VQVAE.pth"]]
    assert main(args + ["--seed", "0"]) == 0
    result = np.array(Image.open(out / "lr_x4.png").convert("RGB"))
    assert_png_close(result, np.array(Image.open(FIXTURES / "sr_final.png").convert("RGB")))


def _photo_with_metadata(path, photo) -> bytes:
    """A JPEG stored sideways (EXIF orientation 6) with an sRGB ICC profile."""
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(photo[:40, :60]).save(path, icc_profile=icc, exif=exif.tobytes())
    return icc


def test_fast_upscale_keeps_orientation_and_icc(photo, tmp_path):
    src = tmp_path / "in" / "side.jpg"
    src.parent.mkdir()
    icc = _photo_with_metadata(src, photo)
    assert main(["upscale", str(src.parent), "--scale", "3", "--out", str(tmp_path), "--fast"]) == 0
    with Image.open(tmp_path / "side_x3.jpg") as out:
        assert out.size == (40 * 3, 60 * 3)  # upright: the 60x40 sideways photo is 40 wide
        assert out.info.get("icc_profile") == icc
        assert out.getexif().get(0x0112, 1) == 1
    before = (tmp_path / "side_x3.jpg").read_bytes()
    assert main(["upscale", str(src), "--scale", "3", "--out", str(tmp_path), "--fast"]) == 0
    assert (tmp_path / "side_x3.jpg").read_bytes() == before  # done already: skipped, kept


def test_demo_model_from_the_registry(photo, tmp_path):
    src = tmp_path / "small.png"
    Image.fromarray(photo[:48, :56]).save(src)
    assert (
        main(["upscale", str(src), "--scale", "2", "--out", str(tmp_path), "--model", "demo"]) == 0
    )
    assert Image.open(tmp_path / "small_x2.png").size == (112, 96)
