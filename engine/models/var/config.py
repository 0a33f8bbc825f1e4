"""Infer model configurations from checkpoint tensors, so any released or tiny VAR just loads."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping

import torch

from engine.models.var.schedules import RELEASED_PATCH_NUMS
from engine.models.var.transformer import VARConfig
from engine.models.var.vqvae import VQVAEConfig
from engine.runtime.cancel import UserFacingError


def _count_indexed(state: Mapping[str, torch.Tensor], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    found = {int(m.group(1)) for key in state if (m := pattern.match(key))}
    return max(found) + 1 if found else 0


def _require(state: Mapping[str, torch.Tensor], key: str, what: str, name: str) -> torch.Tensor:
    if key not in state:
        raise UserFacingError(f"{name}: this is not a {what} checkpoint (it has no '{key}').")
    return state[key]


def _vote(state: Mapping[str, torch.Tensor], *where: tuple[str, int]) -> int:
    """The size most of the tensors that carry it agree on: one damaged or transposed tensor
    then stands out alone in the strict check instead of mis-sizing the whole model."""
    sizes = [
        state[key].shape[dim] for key, dim in where if key in state and len(state[key].shape) > dim
    ]
    return Counter(sizes).most_common(1)[0][0]


def patch_nums_for_length(seq_len: int, levels: int | None = None) -> tuple[int, ...]:
    """Match a token count against the released schedules."""
    for schedule in RELEASED_PATCH_NUMS.values():
        if sum(pn * pn for pn in schedule) == seq_len and levels in (None, len(schedule)):
            return schedule
    raise UserFacingError(
        f"The checkpoint's schedule ({seq_len} tokens) is not a released one; "
        "give the patch sizes explicitly."
    )


def patch_nums_from_levels(lvl_1L: torch.Tensor | None) -> tuple[int, ...] | None:
    """The ``lvl_1L`` buffer holds each token's scale index, so it spells out the schedule."""
    if lvl_1L is None or lvl_1L.dtype.is_floating_point:
        return None
    counts = torch.bincount(lvl_1L.flatten()).tolist()
    sides = [round(math.sqrt(c)) for c in counts]
    if any(side * side != c or side == 0 for side, c in zip(sides, counts, strict=True)):
        return None
    return tuple(sides)


def infer_var_config(
    state: Mapping[str, torch.Tensor],
    patch_nums: tuple[int, ...] | None = None,
    name: str = "VAR",
) -> VARConfig:
    """Depth, width, heads, vocabulary, AdaLN sharing and schedule from the tensors."""
    what = "VAR transformer"
    _require(state, "word_embed.weight", what, name)
    depth = _count_indexed(state, "blocks.")
    embed_dim = _vote(
        state, ("word_embed.weight", 0), ("word_embed.bias", 0), ("pos_start", 2),
        ("pos_1LC", 2), ("class_emb.weight", 1), ("lvl_embed.weight", 1), ("head.weight", 1),
    )  # fmt: skip
    z_channels = _vote(state, ("word_embed.weight", 1))
    num_heads = _require(state, "blocks.0.attn.scale_mul_1H11", what, name).shape[1]
    seq_len = _require(state, "pos_1LC", what, name).shape[1]
    levels = _require(state, "lvl_embed.weight", what, name).shape[0]
    if patch_nums is None:
        patch_nums = patch_nums_from_levels(state.get("lvl_1L")) or patch_nums_for_length(
            seq_len, levels
        )
    elif sum(pn * pn for pn in patch_nums) != seq_len:
        raise UserFacingError(
            f"{name}: patch sizes {patch_nums} give {sum(p * p for p in patch_nums)} tokens, "
            f"but the checkpoint has {seq_len}."
        )
    hidden = _vote(
        state, ("blocks.0.ffn.fc1.weight", 0), ("blocks.0.ffn.fc1.bias", 0),
        ("blocks.0.ffn.fc2.weight", 1),
    )  # fmt: skip
    return VARConfig(
        depth=depth,
        embed_dim=embed_dim,
        num_heads=num_heads,
        vocab_size=_vote(state, ("head.weight", 0), ("head.bias", 0)),
        z_channels=z_channels,
        num_classes=_require(state, "class_emb.weight", what, name).shape[0] - 1,
        patch_nums=tuple(patch_nums),
        shared_aln="shared_ada_lin.1.weight" in state,
        mlp_ratio=hidden / embed_dim,
    )


def infer_vqvae_config(
    state: Mapping[str, torch.Tensor], patch_nums: tuple[int, ...], name: str = "VQVAE"
) -> VQVAEConfig:
    """Channels, levels, blocks, vocabulary and Phi sharing of a VQVAE checkpoint."""
    _require(state, "quantize.embedding.weight", "VQVAE", name)
    _require(state, "encoder.conv_in.weight", "VQVAE", name)
    ch = _vote(state, ("encoder.conv_in.weight", 0), ("encoder.conv_in.bias", 0))
    levels = _count_indexed(state, "encoder.down.")
    ch_mult = tuple(
        _vote(
            state, (f"encoder.down.{i}.block.0.conv1.weight", 0),
            (f"encoder.down.{i}.block.0.conv1.bias", 0),
        ) // ch
        for i in range(levels)
    )  # fmt: skip
    num_res_blocks = _count_indexed(state, "encoder.down.0.block.")
    if any(key.startswith("quantize.quant_resi.qresi_ls.") for key in state):
        share = _count_indexed(state, "quantize.quant_resi.qresi_ls.")
    elif "quantize.quant_resi.qresi.weight" in state:
        share = 1
    else:
        share = 0
        count = _count_indexed(state, "quantize.quant_resi.")
        if count != len(patch_nums):
            raise UserFacingError(
                f"{name}: the VQVAE has {count} per-scale Phi layers but the model uses "
                f"{len(patch_nums)} scales."
            )
    return VQVAEConfig(
        ch=ch,
        ch_mult=ch_mult,
        num_res_blocks=num_res_blocks,
        z_channels=_vote(
            state,
            ("quantize.embedding.weight", 1),
            ("quant_conv.weight", 0),
            ("post_quant_conv.weight", 1),
        ),  # fmt: skip
        vocab_size=_vote(state, ("quantize.embedding.weight", 0)),
        share_quant_resi=share,
        patch_nums=tuple(patch_nums),
    )
