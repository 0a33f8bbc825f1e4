"""NaN weights and fp16 overflow end in one clear sentence, or (fp16) in an automatic rerun in a
precision with float32's range, never in torch's "probability tensor contains nan"."""

from __future__ import annotations

from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from engine.api import GenerateRequest, ModelChoice
from engine.cli.common import run_blocking
from engine.runtime.cancel import UserFacingError


def _edited(tmp_path: Path, path: str, edit) -> str:
    state = dict(load_file(path))
    edit(state)
    out = tmp_path / Path(path).name
    save_file({k: v.contiguous() for k, v in state.items()}, str(out))
    return str(out)


def _nan_head(state):
    state["head.weight"][0, 0] = float("nan")


def _nan_decoder(state):
    state["decoder.conv_out.bias"][0] = float("nan")


@pytest.mark.parametrize("edit, which", [(_nan_head, "var"), (_nan_decoder, "vae")])
def test_nan_weights_are_reported_plainly(tmp_path, tiny_checkpoints, edit, which):
    vae, var = tiny_checkpoints
    if which == "var":
        var = _edited(tmp_path, var, edit)
    else:
        vae = _edited(tmp_path, vae, edit)
    request = GenerateRequest(model=ModelChoice.from_files(vae=vae, transformer=var))
    with pytest.raises(UserFacingError, match="invalid numbers \\(NaN or infinity\\)"):
        run_blocking(request)


def test_fp16_overflow_reruns_in_fp32(tmp_path, tiny_checkpoints):
    """Block weights scaled so the residual stream passes fp16's 65504 but not fp32's range."""
    vae, var = tiny_checkpoints

    def overflow(state):
        state["blocks.0.ffn.fc2.weight"] *= 1e5

    var = _edited(tmp_path, var, overflow)
    fp16 = ModelChoice.from_files(vae=vae, transformer=var, dtype="fp16")
    result = run_blocking(GenerateRequest(model=fp16))
    assert any("fp16 overflowed" in note for note in result.notes)
    assert result.variations[0].image.shape == (64, 64, 3)
