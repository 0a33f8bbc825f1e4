"""VARSR's VQVAE: VAR's architecture and keys, with one quantizer change.

VARSR adds the last scale's code map to ``f_hat`` without Phi (the reference comments the conv
out), both when sampling and when encoding; everything else is VAR's tokenizer, reused as is.
"""

from __future__ import annotations

import torch

from engine.models.var.quant import MultiScaleQuantizer
from engine.models.var.vqvae import VQVAE, VQVAEConfig

# VARSR's only schedule: 512 px output, 32x32 finest grid.
PATCH_NUMS = (1, 2, 3, 4, 6, 9, 13, 18, 24, 32)


class VARSRQuantizer(MultiScaleQuantizer):
    """Multi-scale quantizer whose last scale skips Phi."""

    def contribution(self, h_up: torch.Tensor, si: int) -> torch.Tensor:
        if si == len(self.patch_nums) - 1:
            return h_up
        return super().contribution(h_up, si)


class VARSRVQVAE(VQVAE):
    """VAR's VQVAE with :class:`VARSRQuantizer` (same state-dict keys)."""

    def __init__(self, cfg: VQVAEConfig):
        super().__init__(cfg)
        self.quantize = VARSRQuantizer(
            cfg.vocab_size, cfg.z_channels, cfg.patch_nums, cfg.share_quant_resi
        )
