"""Loading every kind of file as 8-bit RGB(A), refusing bad ones clearly, and atomic saves."""

from __future__ import annotations

import errno
import os
import struct
import time
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from engine.imaging import imageio, saving
from engine.imaging.imageio import LoadedImage, load_image, load_mask, to_rgb
from engine.imaging.modes import NOTE_16BIT, NOTE_CMYK, NOTE_PALETTE
from engine.imaging.saving import numbered_paths, save_image
from engine.runtime.cancel import UserFacingError

ORIENTATION = 0x0112
MAKE = 0x010F


def noise(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif_bytes(orientation: int | None = None, make: str = "FinescaleCam") -> bytes:
    exif = Image.Exif()
    exif[MAKE] = make
    if orientation is not None:
        exif[ORIENTATION] = orientation
    return exif.tobytes()


def listing(folder) -> list[str]:
    return sorted(os.listdir(folder))


# --- loading: every mode ------------------------------------------------------------------------


@pytest.mark.parametrize("mode,channels", [("RGB", 3), ("RGBA", 4)])
def test_png_round_trip_is_exact(tmp_path, mode, channels):
    pixels = noise((7, 11, channels))
    Image.fromarray(pixels, mode).save(tmp_path / "a.png")
    loaded = load_image(tmp_path / "a.png")
    assert isinstance(loaded, LoadedImage)
    assert loaded.pixels.dtype == np.uint8 and loaded.pixels.shape == (7, 11, channels)
    np.testing.assert_array_equal(loaded.pixels, pixels)
    assert loaded.format == "PNG" and loaded.original_mode == mode and loaded.notes == ()
    assert loaded.path == str(tmp_path / "a.png")


def test_greyscale_becomes_rgb(tmp_path):
    grey = noise((5, 6))
    Image.fromarray(grey, "L").save(tmp_path / "g.png")
    loaded = load_image(tmp_path / "g.png")
    assert loaded.pixels.shape == (5, 6, 3) and loaded.original_mode == "L"
    for c in range(3):
        np.testing.assert_array_equal(loaded.pixels[:, :, c], grey)


def test_la_becomes_rgba(tmp_path):
    la = np.stack([noise((4, 9), 1), noise((4, 9), 2)], axis=2)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    loaded = load_image(tmp_path / "la.png")
    assert loaded.pixels.shape == (4, 9, 4) and loaded.original_mode == "LA"
    np.testing.assert_array_equal(loaded.pixels[:, :, 0], la[:, :, 0])
    np.testing.assert_array_equal(loaded.pixels[:, :, 3], la[:, :, 1])


def test_palette_without_transparency_becomes_rgb(tmp_path):
    rgb = noise((6, 8, 3)) // 64 * 64  # few colours: the palette is exact
    Image.fromarray(rgb, "RGB").convert("P", palette=Image.Palette.ADAPTIVE).save(
        tmp_path / "p.png"
    )
    loaded = load_image(tmp_path / "p.png")
    assert loaded.original_mode == "P" and NOTE_PALETTE in loaded.notes
    np.testing.assert_array_equal(loaded.pixels, rgb)


def test_palette_with_transparency_becomes_rgba(tmp_path):
    im = Image.new("P", (5, 3))
    im.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 9))
    im.putdata([0, 1, 2, 1, 0] * 3)
    im.save(tmp_path / "pt.png", transparency=0)
    loaded = load_image(tmp_path / "pt.png")
    assert loaded.pixels.shape == (3, 5, 4)
    assert loaded.pixels[0, 0, 3] == 0  # index 0 is the transparent entry
    assert tuple(loaded.pixels[0, 1]) == (255, 0, 0, 255)
    assert tuple(loaded.pixels[0, 2]) == (0, 255, 0, 255)


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.new("CMYK", (8, 6), (0, 255, 0, 0)).save(tmp_path / "c.jpg", quality=100)
    loaded = load_image(tmp_path / "c.jpg")
    assert loaded.pixels.shape == (6, 8, 3) and loaded.original_mode == "CMYK"
    assert NOTE_CMYK in loaded.notes
    r, g, b = (int(v) for v in loaded.pixels[3, 4])
    assert r > 240 and g < 15 and b > 240  # full magenta ink -> magenta
    assert loaded.icc_profile is None  # a CMYK profile must not travel with RGB pixels


def test_cmyk_with_unusable_profile_still_opens(tmp_path):
    Image.new("CMYK", (4, 4), (255, 0, 0, 0)).save(
        tmp_path / "c.jpg", quality=100, icc_profile=b"not really a profile"
    )
    loaded = load_image(tmp_path / "c.jpg")
    assert loaded.pixels.shape == (4, 4, 3) and NOTE_CMYK in loaded.notes
    assert loaded.icc_profile is None
    r, g, b = (int(v) for v in loaded.pixels[1, 1])
    assert r < 15 and g > 240 and b > 240  # cyan


def test_16bit_greyscale_png_is_scaled_with_rounding(tmp_path):
    values = np.array([[0, 257, 32768, 65535, 40000, 128]], np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode == "I;16"
    loaded = load_image(tmp_path / "g16.png")
    assert loaded.original_mode == "I;16" and NOTE_16BIT in loaded.notes
    assert loaded.pixels.shape == (1, 6, 3)
    expected = np.rint(values.astype(np.float64) * 255 / 65535).astype(np.uint8)
    np.testing.assert_array_equal(loaded.pixels[:, :, 0], expected)


def test_16bit_rgb_png_is_noted(tmp_path):
    cv2.imwrite(str(tmp_path / "rgb16.png"), np.full((3, 4, 3), 65535, np.uint16))
    loaded = load_image(tmp_path / "rgb16.png")
    assert loaded.pixels.shape == (3, 4, 3) and (loaded.pixels == 255).all()
    assert NOTE_16BIT in loaded.notes


def test_float_and_int32_tiff(tmp_path):
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32)).save(tmp_path / "f.tif")
    loaded = load_image(tmp_path / "f.tif")
    assert loaded.original_mode == "F"
    assert list(loaded.pixels[0, :, 0]) == [0, 128, 255]
    Image.fromarray(np.array([[-100, 0, 100]], np.int32)).save(tmp_path / "i.tif")
    loaded = load_image(tmp_path / "i.tif")
    assert list(loaded.pixels[0, :, 0]) == [0, 128, 255]  # out-of-range data is stretched


def test_exif_orientation_6_png_is_rotated_exactly(tmp_path):
    pixels = np.zeros((2, 4, 3), np.uint8)  # 4 wide, 2 tall
    pixels[0, 0] = (255, 0, 0)  # top-left marker
    Image.fromarray(pixels).save(tmp_path / "o.png", exif=exif_bytes(6))
    loaded = load_image(tmp_path / "o.png")
    # Orientation 6: the stored picture must be turned 90° clockwise to stand upright.
    assert loaded.pixels.shape == (4, 2, 3)
    np.testing.assert_array_equal(loaded.pixels, np.rot90(pixels, k=-1))
    assert tuple(loaded.pixels[0, 1]) == (255, 0, 0)
    exif = Image.Exif()
    exif.load(loaded.exif)
    assert exif[ORIENTATION] == 1 and exif[MAKE] == "FinescaleCam"


def test_exif_orientation_6_jpeg_is_rotated(tmp_path):
    pixels = np.zeros((32, 64, 3), np.uint8)
    pixels[:16, :16] = 255  # bright block at the top-left
    Image.fromarray(pixels).save(tmp_path / "o.jpg", exif=exif_bytes(6), quality=100)
    loaded = load_image(tmp_path / "o.jpg")
    assert loaded.pixels.shape == (64, 32, 3)
    assert loaded.pixels[4, 28].min() > 200  # now at the top-right
    assert loaded.pixels[4, 4].max() < 50 and loaded.pixels[60, 28].max() < 50


def test_first_frame_of_animation(tmp_path):
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    loaded = load_image(tmp_path / "a.gif")
    assert loaded.pixels.shape[:2] == (4, 4)
    assert imageio.NOTE_FIRST_FRAME in loaded.notes


# --- loading: refusals --------------------------------------------------------------------------


def refusal(path, **kwargs) -> str:
    before = listing(os.path.dirname(path))
    with pytest.raises(UserFacingError) as info:
        load_image(path, **kwargs)
    assert listing(os.path.dirname(path)) == before  # nothing written
    message = str(info.value)
    assert message.startswith(os.path.basename(path) + ": ") and "\n" not in message
    assert str(os.path.dirname(path)) not in message  # basename only
    return message


def test_empty_file(tmp_path):
    (tmp_path / "photo.png").write_bytes(b"")
    assert refusal(str(tmp_path / "photo.png")) == "photo.png: the file is empty."


def test_missing_file(tmp_path):
    assert "does not exist" in refusal(str(tmp_path / "gone.png"))


def test_folder_is_not_an_image(tmp_path):
    (tmp_path / "dir.png").mkdir()
    assert "folder" in refusal(str(tmp_path / "dir.png"))


def test_text_file_with_image_extension(tmp_path):
    (tmp_path / "notes.png").write_text("just some words, no pixels\n")
    message = refusal(str(tmp_path / "notes.png"))
    assert message == "notes.png: not an image file Finescale can read."


@pytest.mark.parametrize(
    "head", [b"\x89PNG\r\n\x1a\n\x00\x00", b"\xff\xd8\xff\xe0", b"RIFF\x00\x00\x00\x00WEBPVP8 "]
)
def test_image_signature_with_garbage_is_corrupt(tmp_path, head):
    (tmp_path / "bad.png").write_bytes(head)
    assert refusal(str(tmp_path / "bad.png")).startswith(
        "bad.png: the file is truncated or corrupt"
    )


@pytest.mark.parametrize("ext", ["png", "jpg", "webp"])
def test_truncated_file(tmp_path, ext):
    Image.fromarray(noise((64, 64, 3))).save(tmp_path / f"full.{ext}")
    data = (tmp_path / f"full.{ext}").read_bytes()
    (tmp_path / f"photo.{ext}").write_bytes(data[: len(data) // 2])
    message = refusal(str(tmp_path / f"photo.{ext}"))
    assert "truncated or corrupt" in message or "not an image file" in message


def huge_png(path, width: int, height: int) -> None:
    """A tiny real PNG whose IHDR claims another size (with a valid CRC)."""
    Image.new("RGB", (8, 8)).save(path)
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))


def test_huge_header_is_refused_before_decoding(tmp_path):
    huge_png(tmp_path / "huge.png", 50000, 50000)
    started = time.perf_counter()
    message = refusal(str(tmp_path / "huge.png"))
    assert time.perf_counter() - started < 1.0
    assert message == "huge.png: 50000×50000 pixels is more than the 200 megapixel limit."


def test_header_just_over_a_custom_limit(tmp_path):
    huge_png(tmp_path / "big.png", 300, 200)
    message = refusal(str(tmp_path / "big.png"), max_pixels=59_999)
    assert "300×200 pixels" in message


def test_pillow_guard_does_not_refuse_what_our_limit_allows(tmp_path, monkeypatch):
    """Pillow's own bomb limit is process-wide; ours decides, in both directions."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow alone would refuse 60×60
    pixels = noise((60, 60, 3))
    Image.fromarray(pixels).save(tmp_path / "ok.png")
    np.testing.assert_array_equal(load_image(tmp_path / "ok.png").pixels, pixels)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    huge_png(tmp_path / "huge.png", 5000, 5000)  # Pillow's bomb error, still our message
    assert "5000×5000 pixels" in refusal(str(tmp_path / "huge.png"), max_pixels=1000)
    assert Image.MAX_IMAGE_PIXELS == 1000  # the guard is restored after reading the header


# --- masks --------------------------------------------------------------------------------------


def test_load_mask_greyscale(tmp_path):
    grey = np.array([[0, 127, 128, 255]], np.uint8)
    Image.fromarray(grey, "L").save(tmp_path / "m.png")
    mask = load_mask(tmp_path / "m.png", (4, 1))
    assert mask.dtype == bool and mask.tolist() == [[False, False, True, True]]


def test_load_mask_uses_alpha_when_present(tmp_path):
    rgba = np.zeros((1, 3, 4), np.uint8)
    rgba[0, :, 3] = (0, 200, 100)
    rgba[0, 0, :3] = 255  # bright but transparent: not masked
    Image.fromarray(rgba, "RGBA").save(tmp_path / "m.png")
    assert load_mask(tmp_path / "m.png", (3, 1)).tolist() == [[False, True, False]]


def test_load_mask_opaque_rgba_uses_brightness(tmp_path):
    rgba = np.full((1, 2, 4), 255, np.uint8)
    rgba[0, 0, :3] = 0
    Image.fromarray(rgba, "RGBA").save(tmp_path / "m.png")
    assert load_mask(tmp_path / "m.png", (2, 1)).tolist() == [[False, True]]


def test_load_mask_size_mismatch(tmp_path):
    Image.new("L", (10, 20)).save(tmp_path / "mask.png")
    with pytest.raises(UserFacingError) as info:
        load_mask(tmp_path / "mask.png", (30, 40))
    message = str(info.value)
    assert message.startswith("mask.png: ") and "10×20" in message and "30×40" in message


# --- saving -------------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["png", "jpg", "jpeg", "webp", "tif", "tiff"])
def test_save_keeps_icc_and_exif(tmp_path, ext):
    icc = srgb_profile()
    pixels = noise((9, 13, 3))
    path = tmp_path / f"out.{ext}"
    save_image(pixels, path, icc_profile=icc, exif=exif_bytes(1, "Kept"), quality=100)
    assert listing(tmp_path) == [f"out.{ext}"]
    loaded = load_image(path)
    assert loaded.pixels.shape == (9, 13, 3)
    assert loaded.icc_profile == icc
    exif = Image.Exif()
    exif.load(loaded.exif)
    assert exif[MAKE] == "Kept"
    if ext in ("png", "tif", "tiff"):
        np.testing.assert_array_equal(loaded.pixels, pixels)


def test_loaded_metadata_survives_a_round_trip(tmp_path):
    pixels = noise((4, 6, 3))
    Image.fromarray(pixels).save(
        tmp_path / "src.png", exif=exif_bytes(6), icc_profile=srgb_profile()
    )
    source = load_image(tmp_path / "src.png")
    save_image(
        source.pixels, tmp_path / "out.png", icc_profile=source.icc_profile, exif=source.exif
    )
    again = load_image(tmp_path / "out.png")
    np.testing.assert_array_equal(again.pixels, source.pixels)  # not rotated twice
    assert again.icc_profile == source.icc_profile


def test_bmp_saves_without_metadata(tmp_path):
    pixels = noise((3, 5, 3))
    save_image(pixels, tmp_path / "o.bmp", icc_profile=srgb_profile(), exif=exif_bytes())
    np.testing.assert_array_equal(load_image(tmp_path / "o.bmp").pixels, pixels)


@pytest.mark.parametrize("ext", ["jpg", "bmp"])
def test_rgba_without_alpha_support_is_flattened_on_white(tmp_path, ext):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:, :4] = (0, 0, 0, 255)  # opaque black on the left, transparent on the right
    rgba[:, 4] = (0, 0, 0, 128)  # half-transparent black: mid grey on white
    save_image(rgba, tmp_path / f"o.{ext}", quality=100)
    loaded = load_image(tmp_path / f"o.{ext}")
    assert loaded.pixels.shape == (8, 8, 3)
    assert loaded.pixels[:, 6:].min() > 240 and loaded.pixels[:, :2].max() < 15
    assert 110 < int(loaded.pixels[4, 4, 0]) < 145


def test_save_refuses_to_overwrite(tmp_path):
    path = tmp_path / "keep.png"
    path.write_bytes(b"precious")
    with pytest.raises(UserFacingError, match=r"^keep\.png: .*already exists"):
        save_image(noise((2, 2, 3)), path)
    assert path.read_bytes() == b"precious" and listing(tmp_path) == ["keep.png"]
    save_image(noise((2, 2, 3)), path, overwrite=True)
    assert load_image(path).pixels.shape == (2, 2, 3) and listing(tmp_path) == ["keep.png"]


def test_save_never_replaces_the_original(tmp_path):
    original = tmp_path / "photo.png"
    Image.fromarray(noise((3, 3, 3))).save(original)
    before = original.read_bytes()
    (tmp_path / "sub").mkdir()
    other_spelling = str(tmp_path / "sub" / ".." / "photo.png")
    for target in (original, other_spelling):
        with pytest.raises(UserFacingError, match="would overwrite the original"):
            save_image(noise((3, 3, 3), 5), target, overwrite=True, source_path=original)
    assert original.read_bytes() == before


def test_unknown_extension(tmp_path):
    with pytest.raises(UserFacingError, match=r"^out\.xyz: .*'\.xyz'"):
        save_image(noise((2, 2, 3)), tmp_path / "out.xyz")
    with pytest.raises(UserFacingError, match=r"^out: "):
        save_image(noise((2, 2, 3)), tmp_path / "out")
    assert listing(tmp_path) == []


def test_missing_folder_and_bad_array(tmp_path):
    with pytest.raises(UserFacingError, match="does not exist"):
        save_image(noise((2, 2, 3)), tmp_path / "nope" / "o.png")
    with pytest.raises(UserFacingError, match=r"^o\.png: "):
        save_image(np.zeros((2, 2, 5), np.uint8), tmp_path / "o.png")
    with pytest.raises(UserFacingError, match=r"^o\.png: .*8-bit"):
        save_image(np.zeros((2, 2, 3), np.float32), tmp_path / "o.png")
    assert listing(tmp_path) == []


def test_disk_full_during_write_leaves_nothing(tmp_path, monkeypatch):
    real_save = Image.Image.save

    def half_then_full(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG partial data")  # something is already on disk when it fails
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", half_then_full)
    with pytest.raises(UserFacingError) as info:
        save_image(noise((4, 4, 3)), tmp_path / "out.png")
    assert str(info.value) == "out.png: the disk is full, so this file was not saved."
    assert listing(tmp_path) == []
    monkeypatch.setattr(Image.Image, "save", real_save)


def test_failed_rename_leaves_nothing_and_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    path.write_bytes(b"old")

    def refuse(src, dst):
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(imageio.os, "replace", refuse)
    with pytest.raises(UserFacingError, match=r"^out\.png: .*not allowed"):
        save_image(noise((4, 4, 3)), path, overwrite=True)
    assert listing(tmp_path) == ["out.png"] and path.read_bytes() == b"old"


def test_unexpected_error_also_cleans_up(tmp_path, monkeypatch):
    def boom(self, fp, *args, **kwargs):
        fp.write(b"x")
        raise RuntimeError("encoder bug")

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(RuntimeError):
        save_image(noise((4, 4, 3)), tmp_path / "out.png")
    assert listing(tmp_path) == []


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    channels=st.sampled_from([3, 4]),
    ext=st.sampled_from(["png", "tif", "bmp", "webp"]),
    seed=st.integers(0, 2**16),
)
def test_lossless_round_trip_property(tmp_path, h, w, channels, ext, seed):
    pixels = noise((h, w, channels), seed)
    path = tmp_path / f"rt_{seed}_{h}_{w}_{channels}.{ext}"
    if ext == "webp":
        # Lossless WebP drops colour under fully transparent pixels; keep alpha opaque there.
        if channels == 4:
            pixels[:, :, 3] = np.maximum(pixels[:, :, 3], 1)
        save_image(pixels, path, quality=100, overwrite=True)
        assert load_image(path).pixels.shape == pixels.shape
        return
    save_image(pixels, path, overwrite=True)
    if ext == "bmp" and channels == 4:
        pixels = saving._flatten_on_white(pixels)  # BMP has no dependable alpha
    np.testing.assert_array_equal(load_image(path).pixels, pixels)


# --- helpers ------------------------------------------------------------------------------------


def test_numbered_paths():
    assert numbered_paths("out.png", 1) == ["out.png"]
    assert numbered_paths("dir/out.png", 3) == ["dir/out_1.png", "dir/out_2.png", "dir/out_3.png"]
    assert numbered_paths("out", 2) == ["out_1", "out_2"]
    assert numbered_paths("out.png", 0) == []


def test_to_rgb():
    rgba = noise((3, 4, 4))
    rgb, alpha = to_rgb(rgba)
    np.testing.assert_array_equal(rgb, rgba[:, :, :3])
    np.testing.assert_array_equal(alpha, rgba[:, :, 3])
    assert rgb.flags.c_contiguous
    rgb3, none = to_rgb(rgba[:, :, :3])
    assert none is None and rgb3.shape == (3, 4, 3)
    grey, _ = to_rgb(rgba[:, :, 0])
    assert grey.shape == (3, 4, 3)
    with pytest.raises(UserFacingError):
        to_rgb(np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(UserFacingError):
        to_rgb(np.zeros((2, 2, 3), np.float32))


def test_tiff_source_keeps_descriptive_exif_only(tmp_path):
    Image.fromarray(noise((4, 6, 3))).save(tmp_path / "src.tif", tiffinfo={271: "TiffCam", 274: 6})
    loaded = load_image(tmp_path / "src.tif")
    assert loaded.pixels.shape == (6, 4, 3)  # TIFF orientation applied too
    exif = Image.Exif()
    exif.load(loaded.exif)
    assert exif[MAKE] == "TiffCam" and exif.get(ORIENTATION, 1) == 1
    assert 273 not in exif and 256 not in exif  # no strip offsets or widths from the TIFF
