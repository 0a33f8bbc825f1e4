"""Infinity's attention layers: cosine self-attention with a KV cache (and VAREdit's SAR in
layer 0), text cross-attention and the attention pool that makes the start token.

The reference runs text attention through flash-attn with q, k, v cast to bfloat16 and the
output returned in bfloat16, even in an fp32 model. ``_bf16_attention`` reproduces those
rounding points on any device, so an fp32 CPU run lands on the same logits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.models.infinity.rope import apply_rope
from engine.models.int8 import linear, output_dtype
from engine.models.kv_budget import KVBudget, select_keys

MAX_SCALE_MUL = math.log(100.0)


@dataclass
class TextKV:
    """Packed text tokens for all rows (cond first, then uncond), and each row's span."""

    tokens: torch.Tensor  # (N, C) after text_proj_for_ca (or (N, Ct5) for the pool)
    spans: list[tuple[int, int]]


def _bf16_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float):
    """softmax(q k^T * scale) v on bf16-rounded inputs, fp32 arithmetic, bf16-rounded output."""
    q, k, v = (t.to(torch.bfloat16).float() for t in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v, scale=scale)
    return out.to(torch.bfloat16).float()


def _varlen(q_rows: list[torch.Tensor], kv: torch.Tensor, text: TextKV, heads: int, scale):
    """Per row b: queries (Lq, H, c) attend to that row's text span of kv (N, 2, H, c)."""
    outs = []
    for q, (start, end) in zip(q_rows, text.spans, strict=True):
        k, v = kv[start:end, 0], kv[start:end, 1]
        out = _bf16_attention(
            q.transpose(0, 1)[None], k.transpose(0, 1)[None], v.transpose(0, 1)[None], scale
        )
        outs.append(out[0].transpose(0, 1).reshape(q.shape[0], -1))
    return torch.stack(outs)


class CrossAttention(nn.Module):
    """Queries from the image tokens, keys/values from each row's own text tokens."""

    def __init__(self, dim: int, kv_dim: int, heads: int):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.mat_q = nn.Linear(dim, dim)
        self.mat_kv = nn.Linear(kv_dim, dim * 2, bias=False)
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.register_buffer("zero_k_bias", torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def project_kv(self, tokens: torch.Tensor) -> torch.Tensor:
        bias = torch.cat((self.zero_k_bias, self.v_bias))
        return linear(self.mat_kv, tokens, bias).view(-1, 2, self.heads, self.head_dim)

    def forward(self, x: torch.Tensor, text: TextKV) -> torch.Tensor:
        B, L, _ = x.shape
        dtype = output_dtype(self.mat_q)
        q = self.mat_q(x.to(dtype)).view(B, L, self.heads, self.head_dim)
        kv = self.project_kv(text.tokens.to(dtype))
        out = _varlen(list(q.unbind(0)), kv, text, self.heads, 1 / math.sqrt(self.head_dim))
        return self.proj(out.to(dtype))


class TextAttentionPool(nn.Module):
    """``text_proj_for_sos``: one learned query per head pools each row's text into (B, C)."""

    def __init__(self, text_dim: int, dim: int, heads: int):
        super().__init__()
        self.ca = _PoolAttention(text_dim, dim, heads)

    def forward(self, text: TextKV) -> torch.Tensor:
        return self.ca(text)


class _PoolAttention(nn.Module):
    def __init__(self, text_dim: int, dim: int, heads: int):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.mat_q = nn.Parameter(torch.zeros(1, heads, self.head_dim))
        self.mat_kv = nn.Linear(text_dim, dim * 2, bias=False)
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.register_buffer("zero_k_bias", torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, text: TextKV) -> torch.Tensor:
        bias = torch.cat((self.zero_k_bias, self.v_bias))
        kv = F.linear(text.tokens, self.mat_kv.weight, bias).view(-1, 2, self.heads, self.head_dim)
        q_rows = [self.mat_q[0][None].to(kv.dtype) for _ in text.spans]  # (1, H, c) each
        out = _varlen(q_rows, kv, text, self.heads, 1 / math.sqrt(self.head_dim))
        return self.proj(out[:, 0])


class KVCache:
    """Keys/values one self-attention layer has seen, in one buffer allocated once.

    Layout (capacity = source tokens + every target scale but the last): ``[source |
    targets...]``. Layers >= 1 attend to all of it so far. The SAR layer keeps the
    full-resolution source apart and writes its pooling for the current scale just before the
    targets (the source slot is at least as large), so every pass reads one contiguous view.
    The last scale's keys/values are never read again, so once ``final`` is set the pass
    attends over the cache joined with its own k/v without storing them (29% less cache for
    VAREdit-2B at 512 px). The buffer takes the dtype of the keys: the blocks' dtype.

    With a ``budget`` (opt-in ScaleKV, :mod:`engine.models.kv_budget`) a layer > 0 whose pass
    outgrows its smaller buffer attends over the buffer joined with its own k/v, then
    :meth:`compress` stores the share of them its window queries use (source and targets alike).
    """

    def __init__(self, capacity: int, budget: KVBudget | None = None, layer: int = 0):
        self.capacity = capacity
        self.budget, self.layer = budget, layer
        self.source_k: torch.Tensor | None = None  # SAR layer: full-resolution source keys
        self.source_v: torch.Tensor | None = None
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None
        self.length = 0  # end of what has been written
        self.source_len = 0
        self.final = False  # the last scale: attend, do not store

    @property
    def nbytes(self) -> int:
        """Bytes held: the buffer and, in the SAR layer, the full-resolution source."""
        held = (self.keys, self.values, self.source_k, self.source_v)
        return sum(t.numel() * t.element_size() for t in held if t is not None)

    def write(self, start: int, k: torch.Tensor, v: torch.Tensor) -> int:
        if self.keys is None:
            B, H, _, c = k.shape
            self.keys = k.new_empty(B, H, self.capacity, c)
            self.values = v.new_empty(B, H, self.capacity, c)
        end = start + k.shape[2]
        if end > self.capacity:
            raise RuntimeError(f"KV cache overflow: {end} > {self.capacity} tokens")
        self.keys[:, :, start:end] = k
        self.values[:, :, start:end] = v
        return end

    def view(self, start: int, end: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.keys[:, :, start:end], self.values[:, :, start:end]

    def extend(self, start: int, k: torch.Tensor, v: torch.Tensor):
        """What a target pass attends to: the cache from ``start`` plus its own k/v, stored
        unless this is the last scale (or, with a budget, until :meth:`compress`)."""
        at = max(self.length, self.source_len)
        if not self.final and at + k.shape[2] <= self.capacity:
            self.length = self.write(at, k, v)
            return self.view(start, self.length)
        if self.keys is None:
            return k, v
        keys, values = self.view(start, self.length)
        return torch.cat((keys, k), dim=2), torch.cat((values, v), dim=2)

    @property
    def compressing(self) -> bool:
        return self.budget is not None and self.budget.compresses(self.layer)

    def compress(self, q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Keep the budget's share of what this pass attended over (``keys``/``values``)."""
        seen = keys.shape[2]
        keep = self.budget.keep(seen)
        if keep >= seen:
            return  # stored whole already
        idx = select_keys(q, keys, seen - q.shape[2], self.budget.grid, keep, scale=1.0)
        idx = idx.unsqueeze(-1).expand(-1, -1, -1, keys.shape[-1])
        self.length = self.write(0, keys.gather(2, idx), values.gather(2, idx))
        self.source_len = min(self.source_len, self.length)


def area_pool(x: torch.Tensor, src: tuple[int, int], dst: tuple[int, int]) -> torch.Tensor:
    """(B, H, h*w, c) source keys/values area-pooled to the current scale's grid."""
    if tuple(src) == tuple(dst):
        return x
    B, H, _, c = x.shape
    grid = x.permute(0, 1, 3, 2).reshape(B, H * c, *src)
    pooled = F.interpolate(grid, size=dst, mode="area")
    return pooled.reshape(B, H, c, -1).permute(0, 1, 3, 2)


class SelfAttention(nn.Module):
    """Cosine attention: l2-normalised q, k, q scaled by exp(min(scale_mul, ln 100)), SDPA
    scale 1, 2-D RoPE on q and k after the normalisation."""

    def __init__(self, dim: int, heads: int, sar: bool = False):
        super().__init__()
        self.heads, self.head_dim, self.sar = heads, dim // heads, sar
        self.scale_mul_1H11 = nn.Parameter(torch.zeros(1, heads, 1, 1))
        self.mat_qkv = nn.Linear(dim, dim * 3, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.register_buffer("zero_k_bias", torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)
        self.cache: KVCache | None = None

    def qkv(self, x: torch.Tensor, rope: torch.Tensor):
        """(B, H, L, c) each: normalised, scaled and rotated as the reference does."""
        B, L, _ = x.shape
        bias = torch.cat((self.q_bias, self.zero_k_bias, self.v_bias))
        qkv = linear(self.mat_qkv, x, bias).view(B, L, 3, self.heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        scale_mul = self.scale_mul_1H11.clamp_max(MAX_SCALE_MUL).exp()
        q = F.normalize(q, dim=-1, eps=1e-12).mul(scale_mul)
        k = F.normalize(k, dim=-1, eps=1e-12)
        # RoPE runs in fp32; q/k return in the blocks' dtype (what the cache then holds).
        return apply_rope(q, rope).to(v.dtype), apply_rope(k, rope).to(v.dtype), v

    def forward(self, x, rope, grid=None, source_grid=None) -> torch.Tensor:
        """``grid`` None: the source pass; else target scale ``grid`` (h, w)."""
        q, k, v = self.qkv(x, rope)
        keys, values = self.attended(k, v, grid, source_grid)
        out = F.scaled_dot_product_attention(q, keys, values, scale=1.0)
        if self.cache is not None and self.cache.compressing and not self.cache.final:
            self.cache.compress(q, keys, values)
        B, _, L, _ = q.shape
        return self.proj(out.transpose(1, 2).reshape(B, L, -1))

    def attended(self, k, v, grid, source_grid):
        """The keys/values this pass sees, updating the cache."""
        cache = self.cache
        if cache is None:
            return k, v
        if grid is None:  # source pass: the source sees only itself
            if self.sar:
                cache.source_k, cache.source_v = k, v
            elif k.shape[2] <= cache.capacity:
                cache.length = cache.write(0, k, v)
            cache.source_len = k.shape[2]  # (a budget compresses an outgrowing source after)
            return k, v
        if not self.sar:
            return cache.extend(0, k, v)
        # Scale-aligned reference: the source pooled to this scale, right before the targets.
        pooled_k = area_pool(cache.source_k, source_grid, grid)
        pooled_v = area_pool(cache.source_v, source_grid, grid)
        start = cache.source_len - pooled_k.shape[2]
        cache.write(start, pooled_k, pooled_v)
        return cache.extend(start, k, v)
