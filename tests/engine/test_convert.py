"""Conversion to memory-mapped .safetensors (optionally half precision) and loading it back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from engine.api import GenerateRequest, ModelChoice, Sampling
from engine.cli.common import run_blocking
from engine.cli.main import main
from engine.runtime.cancel import UserFacingError
from engine.store import installed, verify
from engine.store.catalogue import get_model
from engine.store.convert import convert_checkpoint
from engine.store.loaders import load_model


@pytest.fixture
def pth_pair(tiny_checkpoints, tmp_path) -> tuple[Path, Path]:
    """The tiny pair as released-style pickles, as users carry them in."""
    paths = []
    for source, name in zip(tiny_checkpoints, ("vae.pth", "tiny.pth"), strict=True):
        path = tmp_path / "pickles" / name
        path.parent.mkdir(exist_ok=True)
        torch.save(load_file(source), path)
        paths.append(path)
    return paths[0], paths[1]


def generate(vae: Path, var: Path, dtype: str = "fp32") -> np.ndarray:
    choice = ModelChoice.from_files(vae=str(vae), transformer=str(var), dtype=dtype)
    request = GenerateRequest(model=choice, class_label=3, sampling=Sampling(seed=5))
    return run_blocking(request).variations[0].image


def test_keep_precision_is_lossless_and_generates_the_same_image(pth_pair, tmp_path):
    vae, var = pth_pair
    out = [convert_checkpoint(p, tmp_path / f"{p.stem}.safetensors") for p in pth_pair]
    for source, converted in zip(pth_pair, out, strict=True):
        before, after = torch.load(source, weights_only=True), load_file(converted)
        assert before.keys() == after.keys()
        assert all(torch.equal(before[k], after[k]) for k in before)
    np.testing.assert_array_equal(generate(*out), generate(vae, var))


def test_fp16_halves_the_transformer_and_keeps_the_codebook_exact(pth_pair, tmp_path):
    vae, var = pth_pair
    half_vae = convert_checkpoint(vae, tmp_path / "vae.safetensors", "fp16")
    half_var = convert_checkpoint(var, tmp_path / "var.safetensors", "fp16")
    full_var = convert_checkpoint(var, tmp_path / "full.safetensors")
    assert half_var.stat().st_size < 0.55 * full_var.stat().st_size
    with safe_open(half_vae, "pt") as handle:
        assert handle.metadata()["precision"] == "fp16"
        assert handle.get_tensor("quantize.embedding.weight").dtype == torch.float32
        assert handle.get_tensor("decoder.conv_out.weight").dtype == torch.float16

    model = load_model(str(half_vae), str(half_var))  # float32 model from half-precision files
    reference = torch.load(var, weights_only=True)
    for key, value in model.var.state_dict().items():
        assert value.dtype == reference[key].dtype
        rounded = reference[key].half().to(reference[key].dtype)
        assert torch.equal(value, rounded if value.is_floating_point() else reference[key]), key
    image = generate(half_vae, half_var)
    assert image.shape == generate(vae, var).shape


def test_bf16_file_runs_bf16_blocks_without_an_fp32_copy(pth_pair, tmp_path):
    vae, var = pth_pair
    bf16_var = convert_checkpoint(var, tmp_path / "var.safetensors", "bf16")
    model = load_model(str(vae), str(bf16_var), dtype="bf16")
    assert all(p.dtype == torch.bfloat16 for p in model.var.blocks.parameters())
    assert model.var.head.weight.dtype == torch.float32  # logits stay float32
    assert generate(vae, bf16_var, "bf16").dtype == np.uint8


def test_a_malicious_pickle_is_refused_before_anything_is_written(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    torch.save({"x": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(UserFacingError, match="evil.pth.*refused"):
        convert_checkpoint(tmp_path / "evil.pth", tmp_path / "evil.safetensors", "fp16")
    assert not marker.exists() and not list(tmp_path.glob("*.safetensors"))


def test_cli_import_with_conversion_registers_a_runnable_half_size_model(
    pth_pair, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("FINESCALE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = pth_pair[0].parent
    assert main(["models", "import", str(folder), "--convert", "fp16"]) == 0
    assert "custom-tiny: installed" in capsys.readouterr().out

    spec = get_model("custom-tiny")
    files = installed.resolve_files(spec)
    assert all(path.endswith(".safetensors") for path in files.values())
    assert Path(files["transformer"]).stat().st_size < 0.55 * pth_pair[1].stat().st_size
    assert [c.status for c in verify.verify(spec)] == ["ok", "ok"]
    out = tmp_path / "gen.png"
    assert main(["generate", "--model", "custom-tiny", "--class", "1", "--out", str(out)]) == 0
    assert out.is_file()
    assert pth_pair[1].is_file(), "the user's files are left where they were"
