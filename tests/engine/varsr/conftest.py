"""The varsr_tiny recipes written as the released trainer containers and as safetensors."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from tests.recipes import build_from_recipe

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
    return build_from_recipe(
        FIXTURES / recipe_name, lambda key, shape, recipe: _buffer(key, shape, recipe["patch_nums"])
    )


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
