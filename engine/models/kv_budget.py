"""A ScaleKV-style budget for the KV cache of next-scale transformers (opt-in, approximate).

Why: the cache grows with every scale and the last scales dominate it (VAR-d16 at 256 px: 424 of
the 680 tokens are the last three scales; Infinity at 1024 px: 85 % of 10 521). ScaleKV
(``reference/methods.md`` C1) observes that most layers ("refiners") attend locally within the
current map and keeps for them only the keys that a few window queries of the current scale look
at; the few "drafter" layers that look across scales keep everything. Without the released
per-layer calibration this keeps the first layer whole (every released ScaleKV budget makes it a
drafter) and gives every other layer the same share of its cache.

Selection, per layer, batch row and head, after a compressed scale's attention:
1. 16 window queries at the centres of a 4×4 grid over the current map (its real q: normalised,
   scaled, as the attention used it);
2. their softmax attention over the whole cache, summed over the queries, then a 1-D max-pool
   (kernel 5) along the sequence so neighbours of a strong key survive with it;
3. the window keys themselves plus the top-scoring rest, in their original order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

WINDOW_SIDE = 4  # 4x4 window queries per scale
POOL_KERNEL = 5
COMPRESSED_SHARE = 0.4  # ScaleKV compresses scales 9-13 of 13: the last ~40 % of the schedule


def window_positions(grid: tuple[int, int], device: torch.device) -> torch.Tensor:
    """Flat indices of up to 16 query positions at the centres of a 4x4 grid over ``grid``."""
    h, w = grid
    rows = sorted({min(h - 1, int((i + 0.5) * h / WINDOW_SIDE)) for i in range(WINDOW_SIDE)})
    cols = sorted({min(w - 1, int((j + 0.5) * w / WINDOW_SIDE)) for j in range(WINDOW_SIDE)})
    return torch.tensor([r * w + c for r in rows for c in cols], device=device)


def select_keys(
    q: torch.Tensor, k: torch.Tensor, start: int, grid: tuple[int, int], keep: int, scale: float
) -> torch.Tensor:
    """Indices ``(B, H, keep)`` (sorted) of the cached keys to keep.

    ``q`` ``(B, H, l, c)`` are this scale's queries, ``k`` ``(B, H, n, c)`` the whole cache with
    this scale's keys at ``start:start + l``; ``scale`` is the attention's own scale.
    """
    l = q.shape[2]
    if l == grid[0] * grid[1]:
        window = window_positions(grid, q.device)
    else:  # a pruned scale runs on some of its tokens only: spread the window over those
        window = torch.linspace(0, l - 1, min(l, WINDOW_SIDE**2), device=q.device).round().long()
    scores = (q[:, :, window].float() @ k.float().transpose(-1, -2)).mul_(scale).softmax(-1)
    score = scores.sum(dim=2)  # (B, H, n)
    B, H, n = score.shape
    pooled = F.max_pool1d(score.view(B * H, 1, n), POOL_KERNEL, 1, POOL_KERNEL // 2).view(B, H, n)
    pooled[:, :, start + window] = math.inf  # the window keys always stay
    return pooled.topk(keep, dim=-1, sorted=False).indices.sort(dim=-1).values


class KVBudget:
    """One sampling run's budget: how many keys each layer keeps after each scale.

    While a layer's cache holds no more than ``floor`` tokens (every token of the scales before
    the last ~40 % of the schedule, ScaleKV's "base capacity") it keeps everything; above that
    it keeps ``share`` of it, never fewer than ``floor``. A ``prefix`` run before the first
    scale (VAREdit's source image) counts as cache like any scale's tokens. Layer 0 keeps
    everything; the last scale is attended to, never stored.
    """

    def __init__(self, share: float, tokens_per_scale: Sequence[int], prefix: int = 0):
        if not 0.0 < share <= 1.0:
            raise ValueError("the KV budget is a share in (0, 1]")
        self.share = share
        self.tokens = tuple(int(t) for t in tokens_per_scale)
        self.prefix = int(prefix)
        n = len(self.tokens)
        self.first_compressed = n - max(1, math.ceil(COMPRESSED_SHARE * n))
        self.floor = sum(self.tokens[: self.first_compressed])
        self.scale_index = 0
        self.grid: tuple[int, int] = (1, 1)

    def set_scale(self, scale_index: int, grid: tuple[int, int]) -> None:
        self.scale_index, self.grid = scale_index, grid

    def compresses(self, layer: int) -> bool:
        """Whether ``layer`` may compress its cache after the current scale."""
        return layer > 0 and self.scale_index < len(self.tokens) - 1

    def keep(self, cached: int) -> int:
        if cached <= self.floor:
            return cached
        return max(self.floor, math.ceil(self.share * cached))

    def held(self, layer: int) -> list[tuple[int, int]]:
        """Per pass (the prefix, then every scale but the last): the tokens a layer attends
        over and the tokens it stores afterwards."""
        out, held = [], 0
        for tokens in ((self.prefix,) if self.prefix else ()) + self.tokens[:-1]:
            seen = held + tokens
            held = self.keep(seen) if layer > 0 else seen
            out.append((seen, held))
        return out

    def capacity(self, layer: int) -> int:
        """Tokens a layer's cache buffer must hold: the most it stores at any point (a pass
        that outgrows it attends over the buffer joined with its own keys, then compresses)."""
        return max((kept for _, kept in self.held(layer)), default=0)

    def transient(self, layer: int) -> int:
        """Tokens above the buffer one layer briefly holds while a pass outgrows it."""
        return max((seen for seen, _ in self.held(layer)), default=0) - self.capacity(layer)
