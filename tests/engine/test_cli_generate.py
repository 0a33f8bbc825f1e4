"""``finescale generate`` end to end: real checkpoint files in, PNG out."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from engine.cli.main import main
from engine.models.var.transformer import VAR, VARConfig
from engine.models.var.vqvae import VQVAE, VQVAEConfig
from tests.recipes import FIXTURES


def test_generate_reproduces_the_reference_image(fixture_checkpoints, tmp_path):
    out = tmp_path / "gen.png"
    args = ["generate", "--vae", fixture_checkpoints["vae.pth"]]
    args += ["--var", fixture_checkpoints["var.safetensors"], "--class", "207", "--seed", "0"]
    args += ["--cfg", "1.5", "--top-k", "900", "--top-p", "0.96", "--out", str(out)]
    assert main(args) == 0
    ref = load_file(str(FIXTURES / "sample_cfg1.5_topk900_topp0.96.safetensors"))["img"]
    # Within the fixture's 1e-4 pixel tolerance, then rounded to 8 bits.
    expected = ref[0].permute(1, 2, 0).numpy().astype(np.float64) * 255
    assert np.abs(np.array(Image.open(out)) - expected).max() <= 0.5 + 255e-4


def test_samples_get_numbered_outputs_and_nothing_is_overwritten(tiny_checkpoints, tmp_path):
    out = tmp_path / "img.png"
    args = ["generate", "--vae", tiny_checkpoints[0], "--var", tiny_checkpoints[1]]
    args += ["--samples", "2", "--out", str(out)]
    assert main(args) == 0
    first = (tmp_path / "img_1.png").read_bytes()
    assert (tmp_path / "img_2.png").exists() and not out.exists()
    assert main(args) == 1  # refuses to overwrite without --overwrite
    assert (tmp_path / "img_1.png").read_bytes() == first


def test_bad_checkpoint_is_one_clear_line(tiny_checkpoints, tmp_path, capsys):
    bad = tmp_path / "var.safetensors"
    bad.write_bytes(b"\x00" * 10)
    args = ["generate", "--vae", tiny_checkpoints[0], "--var", str(bad), "--out", "x.png"]
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert [line for line in err if line.startswith("error:")] == [err[-1]]
    assert err[-1].startswith("error: var.safetensors")
    assert "Traceback" not in "\n".join(err)


@pytest.mark.slow
def test_generate_on_a_d16_shaped_model(tmp_path):
    """Released d16 shapes (310M-parameter transformer, ch=160 VQVAE), random weights."""
    torch.manual_seed(0)
    with torch.no_grad():
        vae, var = VQVAE(VQVAEConfig()), VAR(VARConfig())
        var.head.weight.mul_(0.02)
    save_file(vae.state_dict(), str(tmp_path / "vae_ch160v4096z32.safetensors"))
    torch.save(var.state_dict(), tmp_path / "var_d16.pth")
    del vae, var
    out = tmp_path / "d16.png"
    args = ["generate", "--vae", str(tmp_path / "vae_ch160v4096z32.safetensors")]
    args += ["--var", str(tmp_path / "var_d16.pth"), "--class", "1", "--out", str(out)]
    assert main(args) == 0
    image = Image.open(out)
    assert image.size == (256, 256) and image.mode == "RGB"
