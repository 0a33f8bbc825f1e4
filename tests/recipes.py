"""Rebuild the golden fixtures' tiny seeded weights from their JSON recipes (tests only).

The recipes describe every tensor of a released-format state dict exactly (see
``tests/fixtures/var_tiny/README.md``); rebuilding them avoids committing weight files.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

FIXTURES = Path(__file__).parent / "fixtures" / "var_tiny"
PATCH_NUMS_256 = (1, 2, 3, 4, 5, 6, 8, 10, 13, 16)


def _buffer(key: str, shape: list[int]) -> torch.Tensor:
    if key == "lvl_1L":
        return torch.cat([torch.full((pn * pn,), si) for si, pn in enumerate(PATCH_NUMS_256)])[None]
    if key == "attn_bias_for_masking":
        lvl = _buffer("lvl_1L", [])[0]
        visible = lvl[:, None] >= lvl[None, :]
        return torch.where(visible, 0.0, -torch.inf).reshape(shape).contiguous()
    return torch.zeros(shape)  # zero_k_bias, ema_vocab_hit_SV


def recipe_param(entry: dict) -> torch.Tensor:
    """A parameter as the fixture recipes make it: seeded int8-range values, scaled and shifted."""
    g = torch.Generator(device="cpu").manual_seed(entry["seed"])
    q = torch.randint(-127, 128, entry["shape"], generator=g, dtype=torch.int64)
    return q.to(torch.float32) * 2.0 ** entry["scale_log2"] + entry["offset"]


Buffer = Callable[[str, list[int], dict], torch.Tensor]  # (key, shape, recipe) -> buffer


def build_from_recipe(path: Path, buffer: Buffer) -> OrderedDict[str, torch.Tensor]:
    """Tensors in the official ``state_dict()`` order, each checked against its sha256.

    Shared by every fixture pack (VAR, VAREdit, VARSR); each supplies how its buffers look.
    """
    recipe = json.loads(path.read_text())
    state: OrderedDict[str, torch.Tensor] = OrderedDict()
    for entry in recipe["tensors"]:
        if entry["kind"] == "param":
            tensor = recipe_param(entry)
        elif entry["kind"] == "alias":
            tensor = state[entry["alias_of"]]
        else:
            tensor = buffer(entry["key"], entry["shape"], recipe).contiguous()
        digest = hashlib.sha256(np.ascontiguousarray(tensor.numpy()).tobytes()).hexdigest()
        assert digest == entry["sha256"], f"recipe mismatch for {entry['key']}"
        state[entry["key"]] = tensor
    return state


def build_state_dict(recipe_name: str) -> OrderedDict[str, torch.Tensor]:
    """A var_tiny recipe's state dict."""
    return build_from_recipe(FIXTURES / recipe_name, lambda key, shape, _r: _buffer(key, shape))
