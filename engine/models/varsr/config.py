"""VARSR configurations inferred from checkpoint tensors (released d24, the tiny fixture, ...)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import torch

from engine.models.varsr.refiner import refiner_dims
from engine.models.varsr.transformer import VARSRConfig
from engine.models.varsr.vqvae import PATCH_NUMS
from engine.runtime.cancel import UserFacingError

_REQUIRED = (
    "word_embed.weight",
    "pos_start",
    "con_embedding.conv_in.weight",
    "blocks.0.attn.scale_mul_1H11",
    "diffloss.net.input_proj.weight",
)


def _count(state: Mapping[str, torch.Tensor], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    found = {int(m.group(1)) for key in state if (m := pattern.match(key))}
    return max(found) + 1 if found else 0


def _patch_nums(state: Mapping[str, torch.Tensor], name: str) -> tuple[int, ...]:
    """The schedule spelled by ``lvl_1L``: level 0 = the LR prefix + class token (last² + 1)."""
    lvl = state.get("lvl_1L")
    if lvl is None or lvl.dtype.is_floating_point:
        return PATCH_NUMS
    counts = torch.bincount(lvl.flatten()).tolist()
    sides = [1] + [math.isqrt(c) for c in counts[1:]]
    if any(s * s != c for s, c in zip(sides[1:], counts[1:], strict=True)) or (
        counts[0] != sides[-1] ** 2 + 1
    ):
        raise UserFacingError(f"{name}: its level index is not a VARSR schedule.")
    return tuple(sides)


def infer_varsr_config(state: Mapping[str, torch.Tensor], name: str = "VARSR") -> VARSRConfig:
    """Depth, width, heads, classes, schedule, prefix channels and refiner size from tensors."""
    missing = [key for key in _REQUIRED if key not in state]
    if missing:
        raise UserFacingError(f"{name}: not a VARSR transformer checkpoint (no '{missing[0]}').")
    embed_dim, z_channels = state["word_embed.weight"].shape
    stages = _count(state, "con_embedding.blocks.") // 2
    prefix = [state["con_embedding.conv_in.weight"].shape[0]] + [
        state[f"con_embedding.blocks.{2 * i + 1}.weight"].shape[0] for i in range(stages)
    ]
    dims = refiner_dims(dict(state))
    return VARSRConfig(
        depth=_count(state, "blocks."),
        embed_dim=embed_dim,
        num_heads=state["blocks.0.attn.scale_mul_1H11"].shape[1],
        vocab_size=state["head.weight"].shape[0],
        z_channels=z_channels,
        num_classes=state["class_emb.weight"].shape[0],
        patch_nums=_patch_nums(state, name),
        prefix_channels=tuple(prefix),
        refiner_width=dims["width"],
        refiner_depth=dims["depth"],
        mlp_ratio=state["blocks.0.ffn.fc1.weight"].shape[0] / embed_dim,
    )
