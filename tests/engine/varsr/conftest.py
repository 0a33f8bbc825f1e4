"""The varsr_tiny recipes written as the released trainer containers and as safetensors."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

FIXTURES = Path(__file__).parents[2] / "fixtures" / "varsr_tiny"


def _buffer(key: str, shape: list[int], patch_nums: list[int]) -> torch.Tensor:
    if key == "lvl_1L":
        levels = [torch.zeros(patch_nums[-1] ** 2 + 1, dtype=torch.long)]
        levels += [torch.full((pn * pn,), si) for si, pn in enumerate(patch_nums) if si > 0]
        return torch.cat(levels)[None]
    if key == "attn_bias_for_masking":
        lvl = _buffer("lvl_1L", [], patch_nums)[0]
        return torch.where(lvl[:, None] >= lvl[None, :], 0.0, -torch.inf).reshape(shape)
    return torch.zeros(shape)  # zero_k_bias, ema_vocab_hit_SV


def build_state_dict(recipe_name: str) -> OrderedDict[str, torch.Tensor]:
    """Every tensor in official order, each checked against the recipe's sha256."""
    recipe = json.loads((FIXTURES / recipe_name).read_text())
    state: OrderedDict[str, torch.Tensor] = OrderedDict()
    for entry in recipe["tensors"]:
        shape = entry["shape"]
        if entry["kind"] == "param":
            g = torch.Generator(device="cpu").manual_seed(entry["seed"])
            q = torch.randint(-127, 128, shape, generator=g, dtype=torch.int64)
            tensor = q.to(torch.float32) * 2.0 ** entry["scale_log2"] + entry["offset"]
        else:
            tensor = _buffer(entry["key"], shape, recipe["patch_nums"]).contiguous()
        digest = hashlib.sha256(np.ascontiguousarray(tensor.numpy()).tobytes()).hexdigest()
        assert digest == entry["sha256"], f"recipe mismatch for {entry['key']}"
        state[entry["key"]] = tensor
    return state


@pytest.fixture(scope="session")
def varsr_files(tmp_path_factory) -> dict[str, str]:
    """``VARSR.pth`` / ``VQVAE.pth`` as trainer containers, plus flat ``.safetensors``."""
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("varsr_tiny")
    var_state = build_state_dict("weights_varsr.json")
    vae_state = build_state_dict("weights_vqvae.json")
    paths = {}
    for name, key, state in (("VARSR", "var_wo_ddp", var_state), ("VQVAE", "vae_local", vae_state)):
        container = {"epoch": 0, "iter": 0, "trainer": {key: state, "config": {"pn": "1_2"}}}
        torch.save(container, folder / f"{name}.pth")
        save_file(dict(state), str(folder / f"{name}.safetensors"))
        paths[f"{name}.pth"] = str(folder / f"{name}.pth")
        paths[f"{name}.safetensors"] = str(folder / f"{name}.safetensors")
    return paths


@pytest.fixture(scope="session")
def varsr_models(varsr_files):
    from engine.store.varsr import load_varsr

    return load_varsr(varsr_files["VARSR.pth"], varsr_files["VQVAE.pth"])
