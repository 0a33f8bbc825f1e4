"""VAR transformer (next-scale prediction), inference only, released state-dict layout.

Legend: B batch, L tokens of all scales, l tokens of the current scale, C width, D condition
width (= C), V vocabulary, H heads. Blocks are AdaLN-conditioned on the class embedding; the
attention is L2-normalised with a learned per-head temperature (``scale_mul_1H11``). At inference
each scale attends to the cached keys/values of all coarser scales and itself (block-causal).
Embeddings, the head and the logits stay float32 whatever the blocks run in, like the reference.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.models.kv_budget import KVBudget, select_keys
from engine.models.layers import embedding
from engine.models.var.pruning import TokenPruning
from engine.models.var.schedules import PATCH_NUMS_256


@dataclass(frozen=True)
class VARConfig:
    depth: int = 16
    embed_dim: int = 1024
    num_heads: int = 16
    vocab_size: int = 4096
    z_channels: int = 32
    num_classes: int = 1000
    patch_nums: tuple[int, ...] = PATCH_NUMS_256
    shared_aln: bool = False
    mlp_ratio: float = 4.0
    norm_eps: float = 1e-6

    @property
    def seq_len(self) -> int:
        return sum(pn * pn for pn in self.patch_nums)


class SelfAttention(nn.Module):
    def __init__(self, embed_dim: int, num_heads: int):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, embed_dim // num_heads
        self.scale_mul_1H11 = nn.Parameter(torch.full((1, num_heads, 1, 1), math.log(4.0)))
        self.max_scale_mul = math.log(100)
        self.mat_qkv = nn.Linear(embed_dim, 3 * embed_dim, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(embed_dim))
        self.v_bias = nn.Parameter(torch.zeros(embed_dim))
        self.register_buffer("zero_k_bias", torch.zeros(embed_dim))
        self.proj = nn.Linear(embed_dim, embed_dim)
        self.cached_k: torch.Tensor | None = None  # views of the first ``cached_len`` slots
        self.cached_v: torch.Tensor | None = None
        self.caching = False
        self.cache_capacity = 0  # tokens to preallocate when caching (0: grow by concatenation)
        self._kv: torch.Tensor | None = None  # (2, B, H, capacity, c) once allocated
        self.cached_len = 0
        self.budget: KVBudget | None = None
        self.layer = 0

    def reset_cache(
        self, caching: bool, capacity: int = 0, budget: KVBudget | None = None, layer: int = 0
    ) -> None:
        self.caching, self.cache_capacity = caching, capacity
        self.cached_k = self.cached_v = self._kv = None
        self.cached_len = 0
        self.budget, self.layer = budget, layer

    def keep_rows(self, rows: int) -> None:
        if self._kv is not None:
            self._kv = self._kv[:, :rows]
        if self.cached_k is not None:
            self.cached_k, self.cached_v = self.cached_k[:rows], self.cached_v[:rows]

    def _append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add this scale's keys/values; returns all cached so far plus this scale's.

        With a capacity the cache is one buffer written in place (no re-copy of every earlier
        scale at every scale, as ``torch.cat`` does); the values attended to are the same. A
        scale that does not fit the capacity is attended to but not stored: the last one (never
        read again, 38 % of VAR-256's tokens), or with a KV budget one that ``_compress`` then
        stores in part.
        """
        start, end = self.cached_len, self.cached_len + k.shape[2]
        if self.cached_k is not None and (self.cache_capacity == 0 or end > self.cache_capacity):
            k = torch.cat((self.cached_k, k), dim=2)
            v = torch.cat((self.cached_v, v), dim=2)
            if self.cache_capacity:
                return k, v
        elif self.cache_capacity >= end:
            if self._kv is None:
                B, H, _, c = k.shape
                self._kv = k.new_empty(2, B, H, self.cache_capacity, c)
            self._kv[0, :, :, start:end] = k
            self._kv[1, :, :, start:end] = v
            k, v = self._kv[0, :, :, :end], self._kv[1, :, :, :end]
        self.cached_k, self.cached_v, self.cached_len = k, v, end
        return k, v

    def _compress(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
        """Store the budget's share of everything this scale attended over (``k``, ``v``):
        the keys its window queries use."""
        seen = k.shape[2]
        keep = self.budget.keep(seen)
        if keep >= seen:
            return  # stored whole by _append
        idx = select_keys(q, k, seen - q.shape[2], self.budget.grid, keep, scale=1.0)
        idx = idx.unsqueeze(-1).expand(-1, -1, -1, self.head_dim)
        k, v = k.gather(2, idx), v.gather(2, idx)
        if self._kv is None:
            B, H, _, c = k.shape
            self._kv = k.new_empty(2, B, H, self.cache_capacity, c)
        self._kv[0, :, :, :keep], self._kv[1, :, :, :keep] = k, v
        self.cached_k, self.cached_v = self._kv[0, :, :, :keep], self._kv[1, :, :, :keep]
        self.cached_len = keep

    def forward(self, x: torch.Tensor, attn_bias: torch.Tensor | None) -> torch.Tensor:
        B, L, C = x.shape
        bias = torch.cat((self.q_bias, self.zero_k_bias, self.v_bias))
        qkv = F.linear(x, self.mat_qkv.weight, bias).view(B, L, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each B H L c
        scale_mul = self.scale_mul_1H11.clamp_max(self.max_scale_mul).exp()
        q = F.normalize(q, dim=-1).mul(scale_mul)
        k = F.normalize(k, dim=-1)
        if self.caching:
            k, v = self._append(k, v)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_bias, scale=1.0)
        if self.caching and self.budget is not None and self.budget.compresses(self.layer):
            self._compress(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(B, L, C))


class FFN(nn.Module):
    def __init__(self, embed_dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(embed_dim, hidden)
        self.fc2 = nn.Linear(hidden, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class AdaLNSelfAttn(nn.Module):
    """Transformer block; gamma/scale/shift for both sub-layers come from the condition."""

    def __init__(self, cfg: VARConfig):
        super().__init__()
        C = cfg.embed_dim
        self.C = C
        self.attn = SelfAttention(C, cfg.num_heads)
        self.ffn = FFN(C, round(C * cfg.mlp_ratio))
        self.ln_wo_grad = nn.LayerNorm(C, eps=cfg.norm_eps, elementwise_affine=False)
        self.shared_aln = cfg.shared_aln
        if cfg.shared_aln:
            self.ada_gss = nn.Parameter(torch.zeros(1, 1, 6, C))
        else:
            self.ada_lin = nn.Sequential(nn.SiLU(), nn.Linear(C, 6 * C))

    def forward(self, x: torch.Tensor, cond: torch.Tensor, attn_bias: torch.Tensor | None):
        if self.shared_aln:
            mods = (self.ada_gss + cond).unbind(2)  # cond is already (B, 1, 6, C)
        else:
            mods = self.ada_lin(cond).view(-1, 1, 6, self.C).unbind(2)
        gamma1, gamma2, scale1, scale2, shift1, shift2 = mods
        h = self.ln_wo_grad(x).mul(scale1.add(1)).add_(shift1)
        x = x + self.attn(h, attn_bias).mul_(gamma1)
        h = self.ln_wo_grad(x).mul(scale2.add(1)).add_(shift2)
        return x + self.ffn(h).mul(gamma2)


class SharedAdaLin(nn.Linear):
    def forward(self, cond_BD: torch.Tensor) -> torch.Tensor:
        return super().forward(cond_BD).view(-1, 1, 6, self.out_features // 6)


class AdaLNBeforeHead(nn.Module):
    def __init__(self, C: int, eps: float):
        super().__init__()
        self.C = C
        self.ln_wo_grad = nn.LayerNorm(C, eps=eps, elementwise_affine=False)
        self.ada_lin = nn.Sequential(nn.SiLU(), nn.Linear(C, 2 * C))

    def forward(self, x_BLC: torch.Tensor, cond_BD: torch.Tensor) -> torch.Tensor:
        scale, shift = self.ada_lin(cond_BD).view(-1, 1, 2, self.C).unbind(2)
        return self.ln_wo_grad(x_BLC).mul(scale.add(1)).add_(shift)


def _level_index(patch_nums: Sequence[int]) -> torch.Tensor:
    return torch.cat(
        [torch.full((pn * pn,), si, device="cpu") for si, pn in enumerate(patch_nums)]
    ).view(1, -1)


class VAR(nn.Module):
    """Released keys: ``word_embed``, ``class_emb``, ``pos_start``, ``pos_1LC``, ``lvl_embed``,
    ``blocks.*``, ``head_nm``, ``head`` (+ ``shared_ada_lin`` for d36) and the buffers
    ``lvl_1L`` / ``attn_bias_for_masking``."""

    def __init__(self, cfg: VARConfig):
        super().__init__()
        self.cfg = cfg
        C, L = cfg.embed_dim, cfg.seq_len
        first_l = cfg.patch_nums[0] ** 2
        self.word_embed = nn.Linear(cfg.z_channels, C)
        self.class_emb = embedding(cfg.num_classes + 1, C)  # last row = unconditional
        self.pos_start = nn.Parameter(torch.zeros(1, first_l, C))
        self.pos_1LC = nn.Parameter(torch.zeros(1, L, C))
        self.lvl_embed = embedding(len(cfg.patch_nums), C)
        if cfg.shared_aln:
            self.shared_ada_lin = nn.Sequential(nn.SiLU(), SharedAdaLin(C, 6 * C))
        else:
            self.shared_ada_lin = nn.Identity()
        self.blocks = nn.ModuleList(AdaLNSelfAttn(cfg) for _ in range(cfg.depth))
        self.head_nm = AdaLNBeforeHead(C, cfg.norm_eps)
        self.head = nn.Linear(C, cfg.vocab_size)
        lvl_1L = _level_index(cfg.patch_nums)
        self.register_buffer("lvl_1L", lvl_1L)
        visible = lvl_1L.view(L, 1) >= lvl_1L.view(1, L)
        bias = torch.where(visible, 0.0, -torch.inf).reshape(1, 1, L, L)
        self.register_buffer("attn_bias_for_masking", bias.contiguous())

    @property
    def block_dtype(self) -> torch.dtype:
        return self.blocks[0].attn.mat_qkv.weight.dtype

    def set_block_dtype(self, dtype: torch.dtype) -> None:
        """Run the blocks in ``dtype``; embeddings, head and logits stay float32."""
        self.blocks.to(dtype)
        self.shared_ada_lin.to(dtype)

    @contextlib.contextmanager
    def kv_cache(self, capacity: int = 0, budget: KVBudget | None = None) -> Iterator[None]:
        """Enable per-block KV caches; always cleared, even if sampling is cancelled.

        ``capacity`` (tokens: every scale but the last for a full run) preallocates each cache;
        a ``budget`` (opt-in ScaleKV) sizes each layer's cache to what it keeps.
        """
        for layer, block in enumerate(self.blocks):
            size = capacity if budget is None else budget.capacity(layer)
            block.attn.reset_cache(True, size, budget, layer)
        try:
            yield
        finally:
            for block in self.blocks:
                block.attn.reset_cache(False)

    def keep_cache_rows(self, rows: int) -> None:
        """Keep only the first ``rows`` batch rows of every KV cache (CFG dropped mid-run)."""
        for block in self.blocks:
            block.attn.keep_rows(rows)

    def lvl_pos(self) -> torch.Tensor:
        """Level + position embedding of every token, (1, L, C)."""
        return self.lvl_embed(self.lvl_1L) + self.pos_1LC

    def first_tokens(self, cond_BD: torch.Tensor, lvl_pos: torch.Tensor) -> torch.Tensor:
        """The first scale's input: start-of-sequence = class embedding + pos_start."""
        first_l = self.pos_start.shape[1]
        B = cond_BD.shape[0]
        return (
            cond_BD.unsqueeze(1).expand(B, first_l, -1)
            + self.pos_start.expand(B, first_l, -1)
            + lvl_pos[:, :first_l]
        )

    def run_blocks(
        self,
        x_BLC: torch.Tensor,
        cond_BD: torch.Tensor,
        attn_bias: torch.Tensor | None = None,
        pruning: TokenPruning | None = None,
    ) -> torch.Tensor:
        """Blocks then head; returns float32 logits (B, l, V). ``pruning``: opt-in FastVAR."""
        dtype = self.block_dtype
        cond = self.shared_ada_lin(cond_BD.to(dtype))
        x = x_BLC.to(dtype)
        bias = None if attn_bias is None else attn_bias.to(dtype)
        for index, block in enumerate(self.blocks):
            x = block(x, cond, bias) if pruning is None else pruning.run(index, block, x, cond)
        return self.head(self.head_nm(x.float(), cond_BD).float()).float()

    def forward(self, label_B: torch.Tensor, x_BLCv_wo_first_l: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits for a whole known pyramid (training path; used for parity)."""
        cond_BD = self.class_emb(label_B)
        lvl_pos = self.lvl_pos()
        x = torch.cat(
            (
                cond_BD.unsqueeze(1) + self.pos_start.expand(label_B.shape[0], -1, -1),
                self.word_embed(x_BLCv_wo_first_l.float()),
            ),
            dim=1,
        )
        x = x + lvl_pos
        return self.run_blocks(x, cond_BD, self.attn_bias_for_masking)
