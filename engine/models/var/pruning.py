"""FastVAR-style token pruning for VAR's largest scales (opt-in, approximate).

At a pruned scale each block runs only on the tokens farthest from the scale's mean (the
high-frequency "pivotal" tokens, FastVAR's score ``||x_i - mean_j x_j||²``); every other token
gets the block's update from the last unpruned scale, resized to this grid ("cached token
restoration"). The KV cache then holds only the kept tokens of those scales.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TokenPruning:
    """Per-block state across one sampling call; ``set_scale`` before each scale's blocks."""

    def __init__(self, keep_ratio: float):
        if not 0.0 < keep_ratio <= 1.0:
            raise ValueError("keep_ratio must be in (0, 1]")
        self.keep_ratio = keep_ratio
        self.grid: tuple[int, int] = (1, 1)
        self.active = False
        self._updates: dict[int, torch.Tensor] = {}  # block -> (B, C, h, w) of the last full scale

    def set_scale(self, grid: tuple[int, int], prune: bool) -> None:
        self.grid, self.active = grid, prune

    def run(
        self, index: int, block: nn.Module, x: torch.Tensor, cond: torch.Tensor
    ) -> torch.Tensor:
        B, l, C = x.shape
        h, w = self.grid
        if not self.active:
            out = block(x, cond, None)
            self._updates[index] = (out - x).transpose(1, 2).reshape(B, C, h, w)
            return out
        keep = max(1, round(l * self.keep_ratio))
        score = (x - x.mean(dim=1, keepdim=True)).pow(2).sum(dim=-1)
        idx = score.topk(keep, dim=1).indices.sort(dim=1).values.unsqueeze(-1).expand(-1, -1, C)
        kept = block(x.gather(1, idx), cond, None)
        previous = self._updates.get(index)
        if previous is None:
            out = x.clone()
        else:
            previous = previous[:B]  # CFG may have been dropped since (cfg_skip_last)
            restored = F.interpolate(previous.float(), size=(h, w), mode="area")
            out = x + restored.to(x.dtype).reshape(B, C, l).transpose(1, 2)
        return out.scatter_(1, idx, kept)
