"""VAR's multi-scale residual vector quantizer (inference only), released state-dict layout.

Legend: B batch, C channels (Cvae), H/W finest token grid, pn token grid of one scale, si scale
index, SN number of scales, f_hat the accumulated feature map. An image's code is a pyramid of
token maps; each scale quantizes what the coarser scales left over, and ``Phi`` (a 3x3 conv
blended with identity) refines each up-sampled code map before it is added to ``f_hat``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.models.layers import embedding


class Phi(nn.Conv2d):
    """``h*(1-r) + conv(h)*r``: a residual-blended 3x3 conv (``quant_resi`` = r = 0.5)."""

    def __init__(self, channels: int, resi_ratio: float = 0.5):
        super().__init__(channels, channels, kernel_size=3, stride=1, padding=1)
        self.resi_ratio = abs(resi_ratio)

    def forward(self, h_BChw: torch.Tensor) -> torch.Tensor:
        return h_BChw.mul(1 - self.resi_ratio) + super().forward(h_BChw).mul_(self.resi_ratio)


def _phi_ticks(count: int) -> np.ndarray:
    """Positions in [0, 1] that scale ratios snap to; VAR uses a tighter spread for 4 convs."""
    if count == 4:
        return np.linspace(1 / 3 / count, 1 - 1 / 3 / count, count)
    return np.linspace(1 / 2 / count, 1 - 1 / 2 / count, count)


class PhiShared(nn.Module):
    """One Phi for every scale (key ``quant_resi.qresi.*``)."""

    def __init__(self, channels: int):
        super().__init__()
        self.qresi = Phi(channels)

    def pick(self, ratio: float) -> Phi:
        return self.qresi


class PhiPartiallyShared(nn.Module):
    """K Phi convs shared by neighbouring scales (key ``quant_resi.qresi_ls.{k}.*``)."""

    def __init__(self, channels: int, count: int):
        super().__init__()
        self.qresi_ls = nn.ModuleList(Phi(channels) for _ in range(count))
        self.ticks = _phi_ticks(count)

    def pick(self, ratio: float) -> Phi:
        return self.qresi_ls[int(np.argmin(np.abs(self.ticks - ratio)))]


class PhiNonShared(nn.ModuleList):
    """One Phi per scale (key ``quant_resi.{k}.*``)."""

    def __init__(self, channels: int, count: int):
        super().__init__(Phi(channels) for _ in range(count))
        self.ticks = _phi_ticks(count)

    def pick(self, ratio: float) -> Phi:
        return self[int(np.argmin(np.abs(self.ticks - ratio)))]


def build_phi(channels: int, share_quant_resi: int, num_scales: int) -> nn.Module:
    """VAR's ``share_quant_resi``: 0 = one per scale, 1 = shared, k>1 = k partially shared."""
    if share_quant_resi == 0:
        return PhiNonShared(channels, num_scales)
    if share_quant_resi == 1:
        return PhiShared(channels)
    return PhiPartiallyShared(channels, share_quant_resi)


class MultiScaleQuantizer(nn.Module):
    """Released key names: ``embedding.weight``, ``quant_resi.*``, ``ema_vocab_hit_SV``."""

    def __init__(
        self,
        vocab_size: int,
        channels: int,
        patch_nums: Sequence[int],
        share_quant_resi: int = 4,
    ):
        super().__init__()
        self.vocab_size = vocab_size
        self.channels = channels
        self.patch_nums = tuple(patch_nums)
        self.quant_resi = build_phi(channels, share_quant_resi, len(self.patch_nums))
        # Only a training statistic, but part of the released checkpoint (strict loading).
        self.register_buffer("ema_vocab_hit_SV", torch.zeros(len(self.patch_nums), vocab_size))
        self.embedding = embedding(vocab_size, channels)

    def phi(self, si: int) -> Phi:
        return self.quant_resi.pick(si / (len(self.patch_nums) - 1))

    def _nearest(self, z_NC: torch.Tensor) -> torch.Tensor:
        """Nearest code by L2, with the reference's exact expression so ties break alike."""
        codes = self.embedding.weight
        dist = z_NC.square().sum(1, keepdim=True) + codes.square().sum(1)
        dist.addmm_(z_NC, codes.T, alpha=-2, beta=1)
        return dist.argmin(1)

    def _up(self, h_BChw: torch.Tensor, si: int) -> torch.Tensor:
        size = self.patch_nums[-1]
        if si == len(self.patch_nums) - 1:
            return h_BChw
        return F.interpolate(h_BChw, size=(size, size), mode="bicubic")

    def embed(self, idx_Bl: torch.Tensor, pn: int) -> torch.Tensor:
        """Token ids (B, pn*pn) -> code map (B, C, pn, pn)."""
        return self.embedding(idx_Bl).transpose(1, 2).reshape(idx_Bl.shape[0], -1, pn, pn)

    def encode(self, f_BChw: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Features -> (per-scale token ids (B, pn*pn), per-scale cumulative f_hat)."""
        B, C, H, W = f_BChw.shape
        if self.patch_nums[-1] != H or self.patch_nums[-1] != W:
            raise ValueError(f"feature map {H}x{W} does not match the schedule {self.patch_nums}")
        f_rest = f_BChw.detach().clone()
        f_hat = torch.zeros_like(f_rest)
        ids, f_hats = [], []
        last = len(self.patch_nums) - 1
        for si, pn in enumerate(self.patch_nums):
            z = f_rest if si == last else F.interpolate(f_rest, size=(pn, pn), mode="area")
            idx_N = self._nearest(z.permute(0, 2, 3, 1).reshape(-1, C))
            h = self.embedding(idx_N.view(B, pn, pn)).permute(0, 3, 1, 2)
            h = self.contribution(self._up(h, si).contiguous(), si)
            f_hat.add_(h)
            f_rest.sub_(h)
            ids.append(idx_N.reshape(B, pn * pn))
            f_hats.append(f_hat.clone())
        return ids, f_hats

    def contribution(self, h_up: torch.Tensor, si: int) -> torch.Tensor:
        """What one up-sampled code map adds to ``f_hat``: Phi of it (VARSR skips the last)."""
        return self.phi(si)(h_up)

    def add_scale_(self, f_hat: torch.Tensor, si: int, h_BChw: torch.Tensor) -> torch.Tensor:
        """Accumulate one scale's code map into ``f_hat`` in place (bicubic up, then Phi)."""
        return f_hat.add_(self.contribution(self._up(h_BChw, si), si))

    def next_input(self, f_hat: torch.Tensor, si: int) -> torch.Tensor:
        """Area-downsampled ``f_hat`` at the next scale's grid: the transformer's next input."""
        pn = self.patch_nums[si + 1]
        return F.interpolate(f_hat, size=(pn, pn), mode="area")

    def teacher_forcing_input(self, ids: Sequence[torch.Tensor]) -> torch.Tensor:
        """All scales' next-scale inputs for a known pyramid, (B, L - first_l, C)."""
        B = ids[0].shape[0]
        size = self.patch_nums[-1]
        f_hat = torch.zeros(B, self.channels, size, size, device=ids[0].device)
        inputs = []
        for si in range(len(self.patch_nums) - 1):
            self.add_scale_(f_hat, si, self.embed(ids[si], self.patch_nums[si]))
            inputs.append(self.next_input(f_hat, si).flatten(2).transpose(1, 2))
        return torch.cat(inputs, dim=1)
