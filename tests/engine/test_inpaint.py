"""In-painting and out-painting through the real engine on tiny models and real files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from safetensors.torch import load_file

from engine.api import InpaintRequest, ModelChoice, OutpaintRequest, Sampling
from engine.cli.common import run_blocking
from engine.cli.main import main
from engine.imaging.masks import grow_mask
from engine.runtime.cancel import UserFacingError
from tests.recipes import FIXTURES


def choice(paths) -> ModelChoice:
    return ModelChoice.from_files(vae=paths[0], transformer=paths[1])


def random_image(rng, h, w, channels=3) -> np.ndarray:
    return rng.integers(0, 256, (h, w, channels), dtype=np.uint8)


def test_reproduces_the_reference_zero_shot_inpainting(fixture_checkpoints):
    """Same box mask and settings as the official notebook: same fed tokens, same pixels."""
    rgb = np.array(Image.open(FIXTURES / "test_image.png").convert("RGB"))
    ref = load_file(
        str(FIXTURES / "inpaint_box0.25-0.7_label1000_cfg3_topk900_topp0.95.safetensors")
    )
    mask = np.zeros((256, 256), bool)
    mask[64:176, 64:176] = True  # rows/cols round(0.25*16)..round(0.7*16) tokens, in pixels
    request = InpaintRequest(
        model=ModelChoice.from_files(vae=fixture_checkpoints["vae.pth"],
                                     transformer=fixture_checkpoints["var.pth"]),
        image=rgb, mask=mask, class_label=1000,
        sampling=Sampling(cfg=3, top_k=900, top_p=0.95, seed=0),
        grow_px=0, feather_px=0, color_match=False, token_rule="reference",
    )  # fmt: skip
    (variation,) = run_blocking(request).variations
    for si, ids in enumerate(variation.tokens):
        assert np.array_equal(ids, ref[f"fed_idx_{si}"][0].numpy()), f"scale {si}"
    # Pixels within the fixture's 1e-4 tolerance, then rounded: at most half a level + 1e-4.
    expected = ref["img"][0].permute(1, 2, 0).numpy() * 255
    error = np.abs(variation.image[mask].astype(np.float64) - expected[mask])
    assert error.max() <= 0.5 + 255e-4
    assert np.array_equal(variation.image[~mask], rgb[~mask])


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    size=st.sampled_from([(37, 911), (1, 1), (64, 64), (300, 120), (3000, 4000)]),
    channels=st.sampled_from([3, 4]),
    box=st.tuples(st.floats(0, 0.9), st.floats(0, 0.9), st.integers(1, 40), st.integers(1, 40)),
    grow=st.integers(0, 6),
)
def test_outside_the_grown_mask_is_bit_exact(tiny_checkpoints, size, channels, box, grow):
    h, w = size
    rng = np.random.default_rng(h * 31 + w)
    image = random_image(rng, h, w, channels)
    mask = np.zeros((h, w), bool)
    y, x = int(box[0] * h), int(box[1] * w)
    mask[y : y + box[2], x : x + box[3]] = True
    request = InpaintRequest(
        model=choice(tiny_checkpoints), image=image, mask=mask, grow_px=grow, feather_px=3,
        samples=1, sampling=Sampling(top_k=50, seed=1),
    )  # fmt: skip
    (variation,) = run_blocking(request).variations
    out = variation.image
    assert out.shape == image.shape and out.dtype == np.uint8
    outside = ~grow_mask(mask, grow)
    assert np.array_equal(out[outside], image[outside])
    if channels == 4:
        assert np.array_equal(out[..., 3], image[..., 3])


def test_masked_tokens_are_sampled_and_kept_ones_come_from_the_source(tiny_checkpoints):
    rng = np.random.default_rng(0)
    image = random_image(rng, 64, 64)
    mask = np.zeros((64, 64), bool)
    mask[20:40, 20:40] = True
    base = dict(model=choice(tiny_checkpoints), image=image, grow_px=0)
    masked = run_blocking(InpaintRequest(mask=mask, **base)).variations[0].tokens
    everything = (
        run_blocking(InpaintRequest(mask=np.ones((64, 64), bool), **base)).variations[0].tokens
    )
    from engine.imaging.tensors import image_to_tensor
    from engine.store.loaders import load_model

    model = load_model(*tiny_checkpoints)
    with torch.inference_mode():
        source = [t[0].numpy() for t in model.vqvae.encode_ids(image_to_tensor(image))]
    # The finest grid is 4x4 tokens of 16 px: tokens touching rows/cols 20..39 are 1..2.
    finest_keep = np.ones((4, 4), bool)
    finest_keep[1:3, 1:3] = False
    assert np.array_equal(
        masked[-1].reshape(4, 4)[finest_keep], source[-1].reshape(4, 4)[finest_keep]
    )
    assert masked[0][0] == source[0][0]  # the 1x1 scale is teacher-forced
    assert not np.array_equal(everything[-1], source[-1])  # all-masked = plain generation


def test_samples_use_consecutive_seeds_and_vary_details_keeps_coarse_scales(tiny_checkpoints):
    rng = np.random.default_rng(1)
    image = random_image(rng, 64, 64)
    mask = np.ones((64, 64), bool)
    req = InpaintRequest(model=choice(tiny_checkpoints), image=image, mask=mask, samples=2,
                         sampling=Sampling(top_k=100, seed=5))  # fmt: skip
    first, second = run_blocking(req).variations
    assert (first.seed, second.seed) == (5, 6)
    assert any(not np.array_equal(a, b) for a, b in zip(first.tokens, second.tokens, strict=True))
    varied = run_blocking(
        InpaintRequest(model=choice(tiny_checkpoints), image=image, mask=mask, keep_scales=2,
                       base_tokens=first.tokens, sampling=Sampling(top_k=100, seed=99))
    ).variations[0]  # fmt: skip
    assert all(np.array_equal(varied.tokens[si], first.tokens[si]) for si in range(2))


def test_empty_mask_and_wrong_size_are_clear_errors(tiny_checkpoints):
    image = np.zeros((10, 12, 3), np.uint8)
    with pytest.raises(UserFacingError, match="empty"):
        run_blocking(InpaintRequest(model=choice(tiny_checkpoints), image=image,
                                    mask=np.zeros((10, 12), bool)))  # fmt: skip
    with pytest.raises(UserFacingError, match="same size"):
        run_blocking(InpaintRequest(model=choice(tiny_checkpoints), image=image,
                                    mask=np.ones((12, 10), bool)))  # fmt: skip


@pytest.mark.parametrize("sides", [(0, 20, 0, 0), (30, 30, 10, 70), (0, 0, 200, 0)])
def test_outpaint_has_the_exact_size_and_keeps_the_original(tiny_checkpoints, sides):
    left, right, top, bottom = sides
    rng = np.random.default_rng(2)
    image = random_image(rng, 50, 80)
    request = OutpaintRequest(model=choice(tiny_checkpoints), image=image, left=left,
                              right=right, top=top, bottom=bottom)  # fmt: skip
    (variation,) = run_blocking(request).variations
    out = variation.image
    assert out.shape == (50 + top + bottom, 80 + left + right, 3)
    assert np.array_equal(out[top : top + 50, left : left + 80], image)


def test_quick_fill_needs_no_model():
    image = np.full((40, 40, 3), 200, np.uint8)
    image[10:20, 10:20] = 0
    mask = np.zeros((40, 40), bool)
    mask[10:20, 10:20] = True
    request = InpaintRequest(model=ModelChoice(model_id="quick-fill"), image=image, mask=mask,
                             grow_px=1)  # fmt: skip
    out = run_blocking(request).variations[0].image
    assert out[15, 15].min() > 150  # filled from the surroundings
    assert np.array_equal(out[~grow_mask(mask, 1)], image[~grow_mask(mask, 1)])


def test_cli_inpaint_and_outpaint_write_files_and_keep_metadata(tiny_checkpoints, tmp_path):
    src = tmp_path / "photo.jpg"
    rng = np.random.default_rng(3)
    pil = Image.fromarray(random_image(rng, 48, 70))
    exif = Image.Exif()
    exif[0x010F] = "FinescaleCam"
    pil.save(src, quality=95, exif=exif)
    mask = np.zeros((48, 70), np.uint8)
    mask[10:30, 20:50] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    model = ["--vae", tiny_checkpoints[0], "--var", tiny_checkpoints[1]]
    before = src.read_bytes()
    out = tmp_path / "out.png"
    assert main(["inpaint", "--image", str(src), "--mask", str(tmp_path / "mask.png"),
                 "--out", str(out), "--samples", "2", *model]) == 0  # fmt: skip
    assert Image.open(tmp_path / "out_1.png").size == (70, 48)
    assert Image.open(tmp_path / "out_2.png").getexif().get(0x010F) == "FinescaleCam"
    assert main(["outpaint", "--image", str(src), "--right", "30", "--out",
                 str(tmp_path / "wide.png"), *model]) == 0  # fmt: skip
    assert Image.open(tmp_path / "wide.png").size == (100, 48)
    assert main(["outpaint", "--image", str(src), "--left", "50%", "--top", "25%", "--out",
                 str(tmp_path / "pct.png"), *model]) == 0  # fmt: skip
    assert Image.open(tmp_path / "pct.png").size == (70 + 35, 48 + 12)
    assert src.read_bytes() == before


@pytest.mark.parametrize("text", ["-5", "ten", "1.5", "5%%", ""])
def test_cli_outpaint_refuses_a_bad_side_amount(tmp_path, capsys, text):
    with pytest.raises(SystemExit):
        main(["outpaint", "--image", "x.png", "--left", text, "--out", str(tmp_path / "o.png")])
    assert "pixel count or a percentage" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content, message",
    [(b"", "empty"), (b"hello", "not an image"), (b"\x89PNG\r\n\x1a\n\x00\x00", "corrupt")],
)
def test_cli_bad_image_is_one_line_naming_the_file(tiny_checkpoints, tmp_path, capsys, content,
                                                   message):  # fmt: skip
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    (tmp_path / "mask.png").write_bytes(b"")
    args = ["inpaint", "--image", str(bad), "--mask", str(tmp_path / "mask.png"),
            "--out", str(tmp_path / "o.png"), "--vae", tiny_checkpoints[0],
            "--var", tiny_checkpoints[1]]  # fmt: skip
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: bad.png") and message in err.lower() and "\n" not in err
    assert not (tmp_path / "o.png").exists()


def test_cli_mask_of_another_size_is_refused(tiny_checkpoints, tmp_path, capsys):
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((21, 30), np.uint8)).save(tmp_path / "m.png")
    args = ["inpaint", "--image", str(tmp_path / "a.png"), "--mask", str(tmp_path / "m.png"),
            "--out", str(tmp_path / "o.png"), "--vae", tiny_checkpoints[0],
            "--var", tiny_checkpoints[1]]  # fmt: skip
    assert main(args) == 1
    assert "m.png" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_exif_rotated_input_gives_a_correctly_oriented_output(tiny_checkpoints, tmp_path):
    stored = np.zeros((20, 40, 3), np.uint8)  # 40 wide as stored, 20 wide as displayed
    stored[:, :20] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise for display
    Image.fromarray(stored).save(tmp_path / "rotated.jpg", exif=exif, quality=100)
    mask = np.zeros((40, 20), np.uint8)  # painted on the displayed (upright) picture
    mask[30:, :] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    out = tmp_path / "out.png"
    assert main(["inpaint", "--image", str(tmp_path / "rotated.jpg"), "--mask",
                 str(tmp_path / "mask.png"), "--out", str(out), "--grow", "0",
                 "--vae", tiny_checkpoints[0], "--var", tiny_checkpoints[1]]) == 0  # fmt: skip
    result = Image.open(out)
    assert result.size == (20, 40)
    assert result.getexif().get(0x0112, 1) == 1
    pixels = np.array(result)
    assert pixels[2, 10, 0] > 200 and pixels[2, 10, 2] < 60  # the red half is now on top


def test_cli_says_a_16bit_source_was_processed_in_8bit(tiny_checkpoints, tmp_path, capsys):
    values = (np.arange(40 * 50, dtype=np.uint16).reshape(40, 50) * 31) % 65535
    Image.fromarray(values).save(tmp_path / "deep.png")
    mask = np.zeros((40, 50), np.uint8)
    mask[10:20, 10:30] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    args = ["inpaint", "--image", str(tmp_path / "deep.png"), "--mask", str(tmp_path / "mask.png"),
            "--out", str(tmp_path / "o.png"), "--vae", tiny_checkpoints[0],
            "--var", tiny_checkpoints[1]]  # fmt: skip
    assert main(args) == 0
    assert "note: 16-bit image processed in 8-bit" in capsys.readouterr().err
    assert Image.open(tmp_path / "o.png").size == (50, 40)
