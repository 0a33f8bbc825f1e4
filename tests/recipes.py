"""Rebuild the golden fixtures' tiny seeded weights from their JSON recipes (tests only).

The recipes describe every tensor of a released-format state dict exactly (see
``tests/fixtures/var_tiny/README.md``); rebuilding them avoids committing weight files.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
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


def build_state_dict(recipe_name: str) -> OrderedDict[str, torch.Tensor]:
    """Tensors in the official ``state_dict()`` order, each checked against its sha256."""
    recipe = json.loads((FIXTURES / recipe_name).read_text())
    state: OrderedDict[str, torch.Tensor] = OrderedDict()
    for entry in recipe["tensors"]:
        shape = entry["shape"]
        if entry["kind"] == "param":
            g = torch.Generator(device="cpu").manual_seed(entry["seed"])
            q = torch.randint(-127, 128, shape, generator=g, dtype=torch.int64)
            tensor = q.to(torch.float32) * 2.0 ** entry["scale_log2"] + entry["offset"]
        else:
            tensor = _buffer(entry["key"], shape)
        digest = hashlib.sha256(np.ascontiguousarray(tensor.numpy()).tobytes()).hexdigest()
        assert digest == entry["sha256"], f"recipe mismatch for {entry['key']}"
        state[entry["key"]] = tensor
    return state
