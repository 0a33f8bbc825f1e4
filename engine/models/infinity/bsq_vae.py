"""Infinity's BSQ VAE: a Flux-style conv auto-encoder plus multi-scale binary quantisation.

Module names follow the released ``infinity_vae_*.pth`` (``encoder.down.0.block.0.conv1.conv``):
every conv and GroupNorm sits inside a wrapper (``.conv`` / ``.norm``). Sizes (base channels,
channel multipliers, blocks per level, which levels down-sample, bits) are read from the tensors,
so the stride-16 ``d32reg`` (2B) and the stride-8 ``d56_f8_14`` (8B) build from the same code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.runtime.cancel import UserFacingError


@dataclass(frozen=True)
class VaeConfig:
    base_ch: int
    ch_mult: tuple[int, ...]
    num_res_blocks: int
    bits: int  # latent channels = bits per latent position
    down_levels: tuple[int, ...]  # encoder levels that end with a stride-2 conv
    up_levels: tuple[int, ...]  # decoder levels that end with a x2 up-sample

    @property
    def stride(self) -> int:
        return 2 ** len(self.down_levels)


def _levels(state: Mapping[str, torch.Tensor], side: str) -> list[int]:
    pattern = re.compile(rf"^{side}\.(\d+)\.block\.0\.conv1\.conv\.weight$")
    return sorted(int(m[1]) for key in state if (m := pattern.match(key)))


def infer_vae_config(state: Mapping[str, torch.Tensor], name: str) -> VaeConfig:
    """Sizes from the tensors of a (remapped) VAE state dict."""
    if "encoder.conv_in.conv.weight" not in state or "decoder.conv_in.conv.weight" not in state:
        raise UserFacingError(f"{name}: not an Infinity BSQ VAE (no encoder/decoder conv_in).")
    base = int(state["encoder.conv_in.conv.weight"].shape[0])
    levels = _levels(state, "encoder.down")
    mult = tuple(
        int(state[f"encoder.down.{i}.block.0.conv1.conv.weight"].shape[0]) // base for i in levels
    )
    block = re.compile(r"^encoder\.down\.0\.block\.(\d+)\.conv1\.conv\.weight$")
    blocks = 1 + max(int(m[1]) for key in state if (m := block.match(key)))
    down = tuple(i for i in levels if f"encoder.down.{i}.downsample.conv.conv.weight" in state)
    up = tuple(
        i
        for i in _levels(state, "decoder.up")
        if f"decoder.up.{i}.upsample.conv.conv.weight" in state
    )
    bits = int(state["decoder.conv_in.conv.weight"].shape[1])
    return VaeConfig(base, mult, blocks, bits, down, up)


class Conv(nn.Module):
    """The reference's conv wrapper (2-D only): the tensor lives at ``<name>.conv``."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Normalize(nn.Module):
    """GroupNorm(32) (24 groups where 32 does not divide), eps 1e-6, under ``<name>.norm``."""

    def __init__(self, channels: int):
        super().__init__()
        groups = 32 if channels % 32 == 0 else 24
        if channels % groups:
            raise UserFacingError(f"VAE: {channels} channels cannot be group-normalised.")
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)


def swish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)


class ResnetBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.norm1 = Normalize(cin)
        self.conv1 = Conv(cin, cout, 3, padding=1)
        self.norm2 = Normalize(cout)
        self.conv2 = Conv(cout, cout, 3, padding=1)
        self.nin_shortcut = Conv(cin, cout, 1) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(swish(self.norm1(x)))
        h = self.conv2(swish(self.norm2(h)))
        if self.nin_shortcut is not None:
            x = self.nin_shortcut(x)
        return x + h


class Downsample(nn.Module):
    """Asymmetric (0, 1, 0, 1) zero pad then a stride-2 3x3 conv."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = Conv(channels, channels, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = Conv(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


def _middle(channels: int) -> nn.Module:
    mid = nn.Module()
    mid.block_1 = ResnetBlock(channels, channels)
    mid.block_2 = ResnetBlock(channels, channels)
    return mid


class Encoder(nn.Module):
    def __init__(self, cfg: VaeConfig):
        super().__init__()
        self.conv_in = Conv(3, cfg.base_ch, 3, padding=1)
        self.down = nn.ModuleList()
        cin = cfg.base_ch
        for level, mult in enumerate(cfg.ch_mult):
            stage = nn.Module()
            stage.block = nn.ModuleList()
            for _ in range(cfg.num_res_blocks):
                stage.block.append(ResnetBlock(cin, cfg.base_ch * mult))
                cin = cfg.base_ch * mult
            if level in cfg.down_levels:
                stage.downsample = Downsample(cin)
            self.down.append(stage)
        self.mid = _middle(cin)
        self.norm_out = Normalize(cin)
        self.conv_out = Conv(cin, cfg.bits, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for stage in self.down:
            for block in stage.block:
                h = block(h)
            if hasattr(stage, "downsample"):
                h = stage.downsample(h)
        h = self.mid.block_2(self.mid.block_1(h))
        return self.conv_out(swish(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, cfg: VaeConfig):
        super().__init__()
        cin = cfg.base_ch * cfg.ch_mult[-1]
        self.conv_in = Conv(cfg.bits, cin, 3, padding=1)
        self.mid = _middle(cin)
        stages: list[nn.Module] = []
        for level in reversed(range(len(cfg.ch_mult))):
            stage = nn.Module()
            stage.block = nn.ModuleList()
            for _ in range(cfg.num_res_blocks + 1):
                stage.block.append(ResnetBlock(cin, cfg.base_ch * cfg.ch_mult[level]))
                cin = cfg.base_ch * cfg.ch_mult[level]
            if level in cfg.up_levels:
                stage.upsample = Upsample(cin)
            stages.insert(0, stage)
        self.up = nn.ModuleList(stages)
        self.norm_out = Normalize(cin)
        self.conv_out = Conv(cin, 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid.block_2(self.mid.block_1(self.conv_in(z)))
        for stage in reversed(self.up):
            for block in stage.block:
                h = block(h)
            if hasattr(stage, "upsample"):
                h = stage.upsample(h)
        return self.conv_out(swish(self.norm_out(h)))


def bits_to_codes(bits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """BSQ code vectors: l2-normalised ``±1/sqrt(d)`` along ``dim`` (exactly the reference's)."""
    scale = 1.0 / (bits.shape[dim] ** 0.5)
    return F.normalize(bits.float() * scale * 2 - scale, dim=dim)


def up_to(x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """(B, d, h, w) -> grid with 5-D trilinear, the reference's ``z_interplote_up`` (also used
    to shrink the running sum into the next scale's input)."""
    return F.interpolate(x.unsqueeze(2), size=(1, *grid), mode="trilinear").squeeze(2)


def area_to(x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """(B, d, h, w) -> grid with 5-D area pooling, the reference's ``z_interplote_down``."""
    if tuple(x.shape[-2:]) == tuple(grid):
        return x
    return F.interpolate(x.unsqueeze(2), size=(1, *grid), mode="area").squeeze(2)


class BSQVae(nn.Module):
    """Encoder to raw continuous features, BSQ multi-scale bits, decoder to [-1, 1]."""

    def __init__(self, cfg: VaeConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def encode_raw(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> continuous features (B, d, H/s, W/s), float32."""
        return self.encoder(x.float()).float()

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).clamp(-1, 1)

    @staticmethod
    def quantize_scales(
        raw: torch.Tensor, grids: tuple[tuple[int, int], ...]
    ) -> list[torch.Tensor]:
        """Residual multi-scale BSQ of raw features: per scale bits (B, h*w, d) int64."""
        residual = raw.unsqueeze(2)
        final = tuple(raw.shape[-2:])
        bits_per_scale = []
        for grid in grids:
            part = residual
            if tuple(grid) != final:
                part = F.interpolate(residual, size=(1, *grid), mode="area")
            part = F.normalize(part, dim=1)
            # The reference's straight-through value z + (zhat - z), not exactly zhat.
            zhat = torch.where(part > 0, 1.0, -1.0) * (1.0 / part.shape[1] ** 0.5)
            codes = part + (zhat - part)
            bits = (codes > 0).long()
            if tuple(grid) != final:
                codes = F.interpolate(codes, size=(1, *final), mode="trilinear")
            residual = residual - codes
            bits_per_scale.append(bits.squeeze(2).flatten(2).transpose(1, 2))
        return bits_per_scale


# ---- checkpoint key remapping (what the reference's load_cnn accepts) ------------------------

MASK_KEYS = ("quantizer.lfq.mask", "quantize.lfq.mask")
_WRAPPED = re.compile(
    r"(?:conv_in|conv_out|conv1|conv2|nin_shortcut|sample\.conv)\.conv\.(?:weight|bias)$"
    r"|(?:norm1|norm2|norm_out)\.norm\.(?:weight|bias)$"
)
_PLAIN_CONV = re.compile(
    r"^(.*(?:conv_in|conv_out|conv1|conv2|nin_shortcut|sample\.conv))\.(weight|bias)$"
)
_PLAIN_NORM = re.compile(r"^(.*(?:norm1|norm2|norm_out))\.(weight|bias)$")


def canonical_vae_state(state: Mapping[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    """Released VAE keys -> this module's keys.

    Plain Flux names (``conv_in.weight``, ``norm1.weight``) get their wrapper inserted, as the
    reference's ``load_cnn`` does; the constant ``lfq.mask`` buffers (``2**arange``) are
    checked and dropped. Anything else is kept as is, so strict loading names it.
    """
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        if key in MASK_KEYS:
            expected = 2 ** torch.arange(tensor.numel() - 1, -1, -1)
            if not torch.equal(tensor.to(torch.int64).flatten(), expected):
                raise UserFacingError(f"{name}: '{key}' is not the BSQ bit mask.")
            continue
        target = key
        if not _WRAPPED.search(key):
            if m := _PLAIN_CONV.match(key):
                target = f"{m[1]}.conv.{m[2]}"
            elif m := _PLAIN_NORM.match(key):
                target = f"{m[1]}.norm.{m[2]}"
        if target in out:
            raise UserFacingError(f"{name}: '{key}' appears twice (plain and wrapped names).")
        out[target] = tensor.float() if tensor.is_floating_point() else tensor
    return out
