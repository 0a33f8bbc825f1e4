"""Hooks into a next-scale loop: what is fed forward after each scale, and who watches.

A pipeline (in-painting, vary details, super-resolution) steers any family's sampler through these
two callables only, so the same pipeline serves every family.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

# (scale index, sampled ids (B, l) or bits (B, l, d), code vectors (B, l, C)) -> fed ids and codes.
TokenOverride = Callable[[int, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
# (scale index, accumulated latent after that scale, fed ids) -> None; previews and progress.
ScaleCallback = Callable[[int, torch.Tensor, torch.Tensor], None]


def teacher_force(
    source_ids: Sequence[torch.Tensor],
    keep: Sequence[torch.Tensor],
    codebook: torch.nn.Embedding,
) -> TokenOverride:
    """Override that keeps ``source_ids`` where ``keep`` is True at each scale (in-painting).

    ``keep[si]`` is bool (1 or B, pn*pn); every position is still sampled first, so the random
    stream is the same as without a mask, exactly like the reference.
    """

    def apply(si: int, ids: torch.Tensor, h_BlC: torch.Tensor):
        mask = keep[si].to(ids.device)
        src = source_ids[si].to(ids.device).expand_as(ids)
        fed = torch.where(mask, src, ids)
        h = torch.where(mask.unsqueeze(-1), codebook(src).to(h_BlC.dtype), h_BlC)
        return fed, h

    return apply
