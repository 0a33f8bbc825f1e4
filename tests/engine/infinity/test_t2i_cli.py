"""``finescale inpaint/outpaint --prompt`` with the tiny Infinity set from files."""

from __future__ import annotations

import numpy as np
from PIL import Image

from engine.capabilities import task_defaults
from engine.cli.common import sampling
from engine.cli.main import build_parser, main
from engine.imaging.masks import grow_mask


def infinity_args(edit_files) -> list[str]:
    return [
        "--var", edit_files["transformer"],
        "--vae", edit_files["vae"],
        "--text-encoder", edit_files["text_encoder"],
        "--resolution", "256",
    ]  # fmt: skip


def photo_and_mask(tmp_path) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    photo = rng.integers(0, 256, (200, 280, 3), dtype=np.uint8)
    mask = np.zeros((200, 280), np.uint8)
    mask[60:140, 90:200] = 255
    Image.fromarray(photo).save(tmp_path / "in.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    return photo, mask > 0


def test_inpaint_with_a_prompt(tmp_path, edit_files):
    photo, mask = photo_and_mask(tmp_path)
    argv = ["inpaint", "--image", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png")]
    argv += ["--prompt", "a wooden bench", "--out", str(tmp_path / "o.png")]
    assert main(argv + infinity_args(edit_files)) == 0
    out = np.asarray(Image.open(tmp_path / "o.png"))
    outside = ~grow_mask(mask, task_defaults("infinity", "inpaint").grow_px)
    assert np.array_equal(out[outside], photo[outside])
    assert not np.array_equal(out[mask], photo[mask])


def test_outpaint_with_a_prompt(tmp_path, edit_files):
    photo, _ = photo_and_mask(tmp_path)
    argv = ["outpaint", "--image", str(tmp_path / "in.png"), "--right", "25%"]
    argv += ["--prompt", "more of the same", "--out", str(tmp_path / "o.png")]
    assert main(argv + infinity_args(edit_files)) == 0
    out = np.asarray(Image.open(tmp_path / "o.png"))
    assert out.shape == (200, 350, 3)
    assert np.array_equal(out[:, :280], photo)


def test_no_prompt_is_refused_with_the_flag_to_use(tmp_path, edit_files, capsys):
    photo_and_mask(tmp_path)
    argv = ["inpaint", "--image", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png")]
    argv += ["--out", str(tmp_path / "o.png")]
    assert main(argv + infinity_args(edit_files)) == 1
    assert "--prompt" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_flags_left_out_take_the_family_defaults_given_ones_win():
    args = build_parser().parse_args(["inpaint", "--image", "i", "--mask", "m", "--out", "o"])
    infinity = task_defaults("infinity", "inpaint").sampling
    chosen = sampling(args, "infinity", "inpaint")
    assert (chosen.cfg, chosen.tau, chosen.top_p) == (infinity.cfg, infinity.tau, infinity.top_p)
    assert sampling(args).cfg == task_defaults("var", "inpaint").sampling.cfg
    given = build_parser().parse_args(
        ["inpaint", "--image", "i", "--mask", "m", "--out", "o", "--cfg", "3", "--tau", "1"]
    )
    chosen = sampling(given, "infinity", "inpaint")
    assert (chosen.cfg, chosen.tau, chosen.top_p) == (3.0, 1.0, infinity.top_p)


def test_generate_with_a_prompt_writes_the_reference_image(tmp_path, edit_files):
    """Flags left out are Infinity's defaults (cfg 4, tau 0.5, top-p 0.97): the golden run."""
    from tests.engine.infinity.recipes import PROMPT
    from tests.engine.infinity.test_t2i_parity import GOLDEN, MAIN

    out = tmp_path / "g.png"
    argv = ["generate", "--prompt", PROMPT, "--seed", "42", "--out", str(out)]
    assert main(argv + infinity_args(edit_files)) == 0
    image = np.asarray(Image.open(out)).astype(np.int16)
    golden = np.asarray(Image.open(GOLDEN / f"{MAIN}_output.png")).astype(np.int16)
    diff = np.abs(image - golden)
    assert diff.max() <= 1 and diff.any(axis=-1).mean() <= 0.005
