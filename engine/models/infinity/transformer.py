"""The Infinity transformer with VAREdit's source conditioning (no parameters added).

Per block: shared AdaLN (``shared_ada_lin`` of the pooled text + each block's ``ada_gss``),
cosine self-attention with 2-D RoPE, text cross-attention, GELU FFN. The first self-attention
layer is the SAR layer. Sampling runs the source tokens once (filling the KV caches), then one
call per scale; :mod:`engine.samplers.bitwise` drives it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.models.infinity.attention import (
    CrossAttention,
    KVCache,
    SelfAttention,
    TextAttentionPool,
    TextKV,
)
from engine.models.infinity.config import NORM_EPS, TEXT_MAXLEN, Grid, InfinityConfig
from engine.models.infinity.rope import rope_table, source_span, target_span
from engine.models.int8 import output_dtype
from engine.models.kv_budget import KVBudget
from engine.models.streaming import BlockStreamer, move_except


def ada_norm(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """The reference's fused AdaLN: LayerNorm without affine, then * (1 + scale) + shift."""
    x = F.layer_norm(x.float(), (x.shape[-1],), eps=NORM_EPS)
    return x.mul(scale.add(1)).add_(shift)


class FFN(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class CrossAttnBlock(nn.Module):
    def __init__(self, cfg: InfinityConfig, sar: bool):
        super().__init__()
        C = cfg.embed_dim
        self.ada_gss = nn.Parameter(torch.zeros(1, 1, 6, C))
        self.sa = SelfAttention(C, cfg.num_heads, sar=sar)
        self.ca = CrossAttention(C, C, cfg.num_heads)
        self.ffn = FFN(C, cfg.ffn_hidden)
        self.ca_norm = nn.LayerNorm(C, eps=NORM_EPS)

    def forward(self, x, gss, text: TextKV, rope, grid=None, source_grid=None):
        """``x`` (rows or 1, L, C) float32 residual stream; the layers run in their weights'
        dtype (bf16/fp16 when set), their outputs join the stream in float32."""
        dtype = output_dtype(self.ffn.fc1)
        gamma1, gamma2, scale1, scale2, shift1, shift2 = (self.ada_gss.float() + gss).unbind(2)
        attended = self.sa(ada_norm(x, scale1, shift1).to(dtype), rope, grid, source_grid)
        x = x + attended.float().mul_(gamma1)
        x = x + self.ca(self.ca_norm(x.to(dtype)), text).float()
        return x + self.ffn(ada_norm(x, scale2, shift2).to(dtype)).float().mul(gamma2)


class _Chunk(nn.Module):
    """``block_chunks.{c}.module.{j}``: the released checkpoints group blocks in chunks."""

    def __init__(self, blocks: list[CrossAttnBlock]):
        super().__init__()
        self.module = nn.ModuleList(blocks)


class _AdaHead(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.ada_lin = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))

    def forward(self, x: torch.Tensor, cond_BD: torch.Tensor) -> torch.Tensor:
        scale, shift = self.ada_lin(cond_BD).view(-1, 1, 2, x.shape[-1]).unbind(2)
        return ada_norm(x, scale, shift)


@dataclass
class TextCondition:
    """Everything the blocks need from the instruction, for all rows (cond, then uncond)."""

    cond_BD: torch.Tensor  # (rows, C): pooled text, start token and AdaLN input
    gss: torch.Tensor  # (rows, 1, 6, C)
    kv: TextKV  # cross-attention tokens after text_proj_for_ca
    rows: int


class InfinityTransformer(nn.Module):
    def __init__(self, cfg: InfinityConfig):
        super().__init__()
        self.cfg = cfg
        C, Ct5 = cfg.embed_dim, cfg.text_dim
        self.cfg_uncond = nn.Parameter(torch.zeros(TEXT_MAXLEN, Ct5))
        self.pos_start = nn.Parameter(torch.zeros(1, 1, C))
        self.text_norm = _RMSNorm(Ct5)
        self.text_proj_for_sos = TextAttentionPool(Ct5, C, cfg.pool_heads)
        self.text_proj_for_ca = nn.Sequential(
            nn.Linear(Ct5, C), nn.GELU(approximate="tanh"), nn.Linear(C, C)
        )
        self.lvl_embed = nn.Embedding(cfg.lvl_rows, C, _weight=torch.empty(cfg.lvl_rows, C))
        self.word_embed = nn.Linear(cfg.token_dim, C)
        self.shared_ada_lin = nn.Sequential(nn.SiLU(), nn.Linear(C, 6 * C))
        self.head_nm = _AdaHead(C)
        self.head = nn.Linear(C, 2 * cfg.token_dim)
        per = cfg.blocks_per_chunk
        self.block_chunks = nn.ModuleList(
            _Chunk([CrossAttnBlock(cfg, sar=c == 0 and j == 0) for j in range(per)])
            for c in range(cfg.block_chunks)
        )
        self._rope: torch.Tensor | None = None
        self.reference = True  # VAREdit's source block precedes the targets
        self.streamer: BlockStreamer | None = None  # set by stream_blocks()

    def without_reference(self) -> InfinityTransformer:
        """Run as original Infinity (text-to-image, the same weights): no source block, so the
        first self-attention is a plain layer and the targets take Infinity's RoPE slices."""
        self.reference = False
        next(self.blocks()).sa.sar = False
        return self

    def set_block_dtype(self, dtype: torch.dtype) -> None:
        """Run the blocks (and so the KV cache) in ``dtype``, as the released pipeline runs
        them in bf16; text projections, embeddings and the head stay float32."""
        self.block_chunks.to(dtype)

    def stream_blocks(self, device: torch.device) -> BlockStreamer:
        """Everything but the blocks to ``device``; the blocks stay in (pinned) host RAM and
        run through two device slots (:mod:`engine.models.streaming`): same bits."""
        move_except(self, "block_chunks.", device)
        self.streamer = BlockStreamer(list(self.blocks()), device)
        return self.streamer

    def blocks(self) -> Iterator[CrossAttnBlock]:
        for chunk in self.block_chunks:
            yield from chunk.module

    def rope(self, start: int, end: int) -> torch.Tensor:
        if self._rope is None or self._rope.device != self.pos_start.device:
            self._rope = rope_table(self.cfg.head_dim).to(self.pos_start.device)
        return self._rope[:, start:end]

    def encode_text(self, features: torch.Tensor, guided: bool) -> TextCondition:
        """T5 features (L, Ct5) of the valid tokens -> conditioning rows.

        With guidance a second row uses the learned null text ``cfg_uncond[:L]`` of the same
        length (the reference's unconditional branch without a negative prompt).
        """
        features = features.float()
        L = features.shape[0]
        spans = [(0, L)]
        if guided:
            features = torch.cat((features, self.cfg_uncond[:L].to(features)), dim=0)
            spans.append((L, 2 * L))
        normed = self.text_norm(features)
        cond_BD = self.text_proj_for_sos(TextKV(normed, spans))
        kv = TextKV(self.text_proj_for_ca(normed), spans)
        gss = self.shared_ada_lin(cond_BD.float()).float().view(len(spans), 1, 6, -1)
        return TextCondition(cond_BD, gss, kv, len(spans))

    @staticmethod
    def cache_tokens(source_len: int, schedule: tuple[Grid, ...]) -> int:
        """KV cache capacity: the source and every target scale but the last (never read)."""
        return source_len + sum(h * w for h, w in schedule[:-1])

    @contextmanager
    def kv_cache(self, capacity: int, budget: KVBudget | None = None) -> Iterator[None]:
        """Per-layer caches for ``capacity`` tokens (:meth:`cache_tokens`), or each what the
        opt-in ``budget`` keeps; always dropped afterwards, even when sampling is cancelled."""
        for layer, block in enumerate(self.blocks()):
            size = capacity if budget is None else budget.capacity(layer)
            block.sa.cache = KVCache(size, budget, layer)
        try:
            yield
        finally:
            for block in self.blocks():
                block.sa.cache = None

    def _run(self, x, text: TextCondition, rope, grid=None, source_grid=None):
        for index, block in enumerate(self.blocks()):
            args = (x, text.gss, text.kv, rope, grid, source_grid)
            x = block(*args) if self.streamer is None else self.streamer(index, *args)
        return x

    def run_source(self, source: torch.Tensor, text: TextCondition, schedule) -> torch.Tensor:
        """Source tokens (1, h_K*w_K, d) through every block, filling the caches."""
        x = self.word_embed(source.float())
        x = x + self.lvl_embed.weight[len(schedule) - 1]
        return self._run(x, text, self.rope(*source_span(schedule)))

    def start_tokens(self, text: TextCondition) -> torch.Tensor:
        return text.cond_BD.unsqueeze(1) + self.pos_start

    def run_scale(self, x, si: int, text: TextCondition, schedule: tuple[Grid, ...]):
        """One target scale: ``x`` (rows, h*w, C) embedded inputs -> hidden states."""
        x = x + self.lvl_embed.weight[si]
        if si == len(schedule) - 1:  # the last scale attends without being cached
            for block in self.blocks():
                if block.sa.cache is not None:
                    block.sa.cache.final = True
        rope = self.rope(*target_span(schedule, si, self.reference))
        return self._run(x, text, rope, tuple(schedule[si]), tuple(schedule[-1]))

    def logits(self, hidden: torch.Tensor, cond_BD: torch.Tensor) -> torch.Tensor:
        """(rows, l, 2*d): index 2*i + j is the logit of 'bit i = j'."""
        return self.head(self.head_nm(hidden.float(), cond_BD.float()))


class _RMSNorm(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True).add_(NORM_EPS)) * self.weight
