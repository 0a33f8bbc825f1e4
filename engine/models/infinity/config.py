"""Infinity / VAREdit hyper-parameters, inferred from the released tensors, and the schedules.

Nothing here is read from a side file: every size comes from a tensor shape, so the 2B, the 8B
and the tiny test models load through the same code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from engine.runtime.cancel import UserFacingError

# Infinity's h/w = 1 token grids (utils/dynamic_resolution.py); a schedule is a prefix of it.
SQUARE_SIDES = (1, 2, 4, 6, 8, 12, 16, 20, 24, 32, 40, 48, 64)
PN_LENGTHS = {"0.06M": 7, "0.25M": 10, "0.60M": 12, "1M": 13}
RESOLUTION_PN = {256: "0.06M", 512: "0.25M", 1024: "1M"}
TEXT_MAXLEN = 512  # the reference always builds cfg_uncond with this many rows
NORM_EPS = 1e-6

Grid = tuple[int, int]


def square_schedule(resolution: int) -> tuple[Grid, ...]:
    """Transformer token grids for a square image of ``resolution`` px (256, 512 or 1024)."""
    pn = RESOLUTION_PN.get(int(resolution))
    if pn is None:
        raise UserFacingError(
            f"Resolution {resolution} is not supported: use one of "
            + ", ".join(str(r) for r in RESOLUTION_PN)
            + "."
        )
    return tuple((s, s) for s in SQUARE_SIDES[: PN_LENGTHS[pn]])


def full_schedule() -> tuple[Grid, ...]:
    """The 1M schedule: the reference builds its RoPE table from it for every resolution."""
    return tuple((s, s) for s in SQUARE_SIDES)


@dataclass(frozen=True)
class InfinityConfig:
    embed_dim: int
    depth: int
    block_chunks: int
    num_heads: int
    ffn_hidden: int
    token_dim: int  # bits per transformer token: 32 (2B) or 4*14 = 56 (8B, 2x2 patchify)
    text_dim: int  # T5 width (2048 for flan-t5-xl)
    pool_heads: int
    lvl_rows: int

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    @property
    def blocks_per_chunk(self) -> int:
        return self.depth // self.block_chunks


_BLOCK_KEY = re.compile(r"^block_chunks\.(\d+)\.module\.(\d+)\.ada_gss$")


def _need(state: Mapping[str, torch.Tensor], key: str, name: str) -> torch.Tensor:
    if key not in state:
        raise UserFacingError(f"{name}: not an Infinity/VAREdit transformer (no '{key}').")
    return state[key]


def infer_config(state: Mapping[str, torch.Tensor], name: str) -> InfinityConfig:
    """Read every size from the tensors of a released ``state_dict``."""
    embed_dim, token_dim = _need(state, "word_embed.weight", name).shape
    blocks = sorted(
        (int(m[1]), int(m[2])) for key in state if (m := _BLOCK_KEY.match(key)) is not None
    )
    if not blocks:
        raise UserFacingError(f"{name}: no transformer blocks ('block_chunks.*') found.")
    chunks = blocks[-1][0] + 1
    per_chunk = max(j for _, j in blocks) + 1
    if len(blocks) != chunks * per_chunk:
        raise UserFacingError(f"{name}: the transformer blocks are incomplete.")
    scale_mul = _need(state, "block_chunks.0.module.0.sa.scale_mul_1H11", name)
    heads = scale_mul.numel()
    if embed_dim % heads or (embed_dim // heads) % 4:
        raise UserFacingError(f"{name}: {heads} heads do not divide the width {embed_dim}.")
    pool_q = _need(state, "text_proj_for_sos.ca.mat_q", name)
    return InfinityConfig(
        embed_dim=int(embed_dim),
        depth=chunks * per_chunk,
        block_chunks=chunks,
        num_heads=int(heads),
        ffn_hidden=int(_need(state, "block_chunks.0.module.0.ffn.fc1.weight", name).shape[0]),
        token_dim=int(token_dim),
        text_dim=int(_need(state, "text_norm.weight", name).shape[0]),
        pool_heads=int(pool_q.shape[1]),
        lvl_rows=int(_need(state, "lvl_embed.weight", name).shape[0]),
    )
