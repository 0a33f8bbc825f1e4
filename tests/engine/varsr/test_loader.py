"""Loading VARSR's released containers and safetensors: strict, safe, with readable errors."""

from __future__ import annotations

import os

import pytest
import torch

from engine.runtime.cancel import UserFacingError
from engine.store.varsr import convert_to_safetensors, load_varsr, read_container


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_containers_and_safetensors_load_the_same_model(varsr_files, varsr_models, tmp_path):
    cfg = varsr_models.transformer.cfg
    assert (cfg.depth, cfg.embed_dim, cfg.num_heads, cfg.num_classes) == (2, 128, 2, 2)
    assert (cfg.refiner_width, cfg.refiner_depth) == (256, 2)  # read from the tensors
    assert cfg.prefix_channels == (32, 128, 256, 512, 1536)
    assert varsr_models.resolution == 512 and varsr_models.vqvae.cfg.ch == 32
    flat = load_varsr(varsr_files["VARSR.safetensors"], varsr_files["VQVAE.safetensors"])
    ours = varsr_models.transformer.state_dict()
    for key, value in flat.transformer.state_dict().items():
        assert torch.equal(value, ours[key]), key
    converted = convert_to_safetensors(
        varsr_files["VARSR.pth"], "var_wo_ddp", str(tmp_path / "varsr.safetensors")
    )
    assert read_container(converted, "var_wo_ddp").keys() == ours.keys()


def test_code_in_a_container_is_refused(tmp_path):
    path = tmp_path / "VARSR.pth"
    torch.save({"trainer": {"var_wo_ddp": {"w": torch.zeros(1)}, "x": _Payload()}}, path)
    with pytest.raises(UserFacingError, match="refused to load.*posix.system|refused to load"):
        read_container(str(path), "var_wo_ddp")


def test_wrong_entry_and_missing_keys_are_named(varsr_files, tmp_path):
    with pytest.raises(UserFacingError, match="no 'var_wo_ddp'"):
        read_container(varsr_files["VQVAE.pth"], "var_wo_ddp")
    state = read_container(varsr_files["VARSR.pth"], "var_wo_ddp")
    del state["head.bias"]
    path = tmp_path / "broken.pth"
    torch.save({"trainer": {"var_wo_ddp": state}}, path)
    with pytest.raises(UserFacingError, match=r"broken.pth: .*1 missing key\(s\): head.bias"):
        load_varsr(str(path), varsr_files["VQVAE.pth"])
