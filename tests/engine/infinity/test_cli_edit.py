"""``finescale edit`` on the tiny fixture model: the reference's image, any size, masks."""

from __future__ import annotations

import numpy as np
from PIL import Image

from engine.cli.main import main
from engine.imaging.masks import grow_mask
from tests.engine.infinity.recipes import FIXTURES, PROMPT


def model_args(edit_files) -> list[str]:
    return [
        "--transformer", edit_files["transformer"],
        "--vae", edit_files["vae"],
        "--text-encoder", edit_files["text_encoder"],
        "--resolution", "256",
    ]  # fmt: skip


def test_edit_writes_the_reference_image(tmp_path, edit_files):
    out = tmp_path / "edited.png"
    argv = ["edit", "--image", str(FIXTURES / "source.png"), "--instruction", PROMPT]
    argv += ["--out", str(out), "--seed", "42", "--cfg", "4", "--tau", "0.5"]
    assert main(argv + model_args(edit_files)) == 0
    image = np.asarray(Image.open(out)).astype(np.int16)
    golden = np.asarray(Image.open(FIXTURES / "edit_cfg4_tau0.5_seed42_output.png"))
    diff = np.abs(image - golden.astype(np.int16))
    assert diff.max() <= 1 and diff.any(axis=-1).mean() <= 0.005


def test_masked_edit_of_a_non_square_photo(tmp_path, edit_files):
    rng = np.random.default_rng(3)
    photo = rng.integers(0, 256, (389, 517, 3), dtype=np.uint8)
    mask = np.zeros((389, 517), np.uint8)
    mask[100:200, 150:300] = 255
    Image.fromarray(photo).save(tmp_path / "in.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    argv = ["edit", "--image", str(tmp_path / "in.png"), "--instruction", "make it red"]
    argv += ["--mask", str(tmp_path / "mask.png"), "--grow", "4", "--out", str(tmp_path / "o.png")]
    assert main(argv + model_args(edit_files)) == 0
    out = np.asarray(Image.open(tmp_path / "o.png"))
    assert out.shape == (389, 517, 3)
    outside = ~grow_mask(mask > 0, 4)
    assert np.array_equal(out[outside], photo[outside])
    assert not np.array_equal(out[mask > 0], photo[mask > 0])


def test_incomplete_model_files_are_refused(tmp_path, edit_files, capsys):
    argv = ["edit", "--image", str(FIXTURES / "source.png"), "--instruction", "x"]
    argv += ["--out", str(tmp_path / "o.png"), "--transformer", edit_files["transformer"]]
    assert main(argv) == 1
    assert "--text-encoder" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()
