"""VAR's VQVAE tokenizer (LDM-style conv encoder/decoder + multi-scale quantizer), inference only.

Module and parameter names follow the released ``vae_ch160v4096z32.pth`` so that checkpoint
loads strictly. Images are (B, 3, H, W) in [-1, 1]; the latent grid is 16x smaller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.models.var.quant import MultiScaleQuantizer
from engine.models.var.schedules import PATCH_NUMS_256


@dataclass(frozen=True)
class VQVAEConfig:
    ch: int = 160
    ch_mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    num_res_blocks: int = 2
    z_channels: int = 32
    vocab_size: int = 4096
    share_quant_resi: int = 4
    patch_nums: tuple[int, ...] = PATCH_NUMS_256

    @property
    def downsample(self) -> int:
        return 2 ** (len(self.ch_mult) - 1)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(32, channels, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.norm1 = _norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = _norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.nin_shortcut = (
            nn.Conv2d(in_channels, out_channels, 1)
            if in_channels != out_channels
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.nin_shortcut(x) + h


class AttnBlock(nn.Module):
    """Single-head spatial self-attention over all latent positions."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = _norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(B, 3, C, H * W).unbind(1)
        # Scale after the product, as the reference does: the encoder's argmin over codes is
        # sensitive to rounding, and SDPA's pre-scaled form drifts by ~1e-3 here.
        weights = torch.bmm(q.transpose(1, 2), k).mul_(C**-0.5).softmax(dim=2)  # B, HWq, HWk
        h = torch.bmm(v, weights.transpose(1, 2))  # B, C, HWq
        return x + self.proj_out(h.view(B, C, H, W))


class Downsample2x(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample2x(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class _Mid(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels)
        self.attn_1 = AttnBlock(channels)
        self.block_2 = ResnetBlock(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block_2(self.attn_1(self.block_1(x)))


class _Level(nn.Module):
    """One resolution level: res blocks, attention after each (coarsest level only), resampler."""

    def __init__(
        self, in_ch: int, out_ch: int, blocks: int, attn: bool, resample: nn.Module | None
    ):
        super().__init__()
        self.block = nn.ModuleList(
            ResnetBlock(in_ch if i == 0 else out_ch, out_ch) for i in range(blocks)
        )
        self.attn = nn.ModuleList(AttnBlock(out_ch) for _ in range(blocks if attn else 0))
        self.resample_name = None
        if resample is not None:
            self.resample_name = "downsample" if isinstance(resample, Downsample2x) else "upsample"
            self.add_module(self.resample_name, resample)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for i, block in enumerate(self.block):
            h = block(h)
            if len(self.attn):
                h = self.attn[i](h)
        if self.resample_name is not None:
            h = getattr(self, self.resample_name)(h)
        return h


class Encoder(nn.Module):
    def __init__(self, cfg: VQVAEConfig):
        super().__init__()
        levels = len(cfg.ch_mult)
        self.conv_in = nn.Conv2d(3, cfg.ch, 3, padding=1)
        self.down = nn.ModuleList()
        in_ch = cfg.ch
        for i, mult in enumerate(cfg.ch_mult):
            out_ch = cfg.ch * mult
            last = i == levels - 1
            resample = None if last else Downsample2x(out_ch)
            self.down.append(_Level(in_ch, out_ch, cfg.num_res_blocks, last, resample))
            in_ch = out_ch
        self.mid = _Mid(in_ch)
        self.norm_out = _norm(in_ch)
        self.conv_out = nn.Conv2d(in_ch, cfg.z_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for level in self.down:
            h = level(h)
        return self.conv_out(F.silu(self.norm_out(self.mid(h))))


class Decoder(nn.Module):
    def __init__(self, cfg: VQVAEConfig):
        super().__init__()
        levels = len(cfg.ch_mult)
        in_ch = cfg.ch * cfg.ch_mult[-1]
        self.conv_in = nn.Conv2d(cfg.z_channels, in_ch, 3, padding=1)
        self.mid = _Mid(in_ch)
        built: list[_Level] = []
        for i in reversed(range(levels)):
            out_ch = cfg.ch * cfg.ch_mult[i]
            resample = Upsample2x(out_ch) if i != 0 else None
            built.append(_Level(in_ch, out_ch, cfg.num_res_blocks + 1, i == levels - 1, resample))
            in_ch = out_ch
        self.up = nn.ModuleList(reversed(built))  # stored by level index, run coarse to fine
        self.norm_out = _norm(in_ch)
        self.conv_out = nn.Conv2d(in_ch, 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.conv_in(z))
        for level in reversed(self.up):
            h = level(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class VQVAE(nn.Module):
    """Tokenizer: ``encode_ids`` image -> token pyramid, ``decode`` f_hat -> image."""

    def __init__(self, cfg: VQVAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.quantize = MultiScaleQuantizer(
            cfg.vocab_size, cfg.z_channels, cfg.patch_nums, cfg.share_quant_resi
        )
        self.quant_conv = nn.Conv2d(cfg.z_channels, cfg.z_channels, 3, padding=1)
        self.post_quant_conv = nn.Conv2d(cfg.z_channels, cfg.z_channels, 3, padding=1)

    @property
    def patch_nums(self) -> tuple[int, ...]:
        return self.quantize.patch_nums

    def features(self, img: torch.Tensor) -> torch.Tensor:
        """Continuous latent ``f`` (B, Cvae, h, w) of an image in [-1, 1]."""
        return self.quant_conv(self.encoder(img))

    def encode_ids(self, img: torch.Tensor) -> list[torch.Tensor]:
        """Image in [-1, 1] -> per-scale token ids (B, pn*pn)."""
        return self.quantize.encode(self.features(img))[0]

    def decode(self, f_hat: torch.Tensor) -> torch.Tensor:
        """f_hat -> image in [-1, 1] (clamped, as the reference's ``fhat_to_img``)."""
        z = self.post_quant_conv(f_hat)
        if self.decoder.conv_in.weight.is_contiguous(memory_format=torch.channels_last):
            z = z.contiguous(memory_format=torch.channels_last)
        return self.decoder(z).clamp_(-1, 1).contiguous()

    def use_channels_last_decoder(self) -> None:
        """oneDNN's channels-last convs decode ~15% faster on CPU (pixels move by ~1e-5).

        Only the decoder: the encoder feeds an argmin over codes, kept in the reference layout.
        """
        self.decoder.to(memory_format=torch.channels_last)

    def ids_to_fhat(self, ids: Sequence[torch.Tensor]) -> torch.Tensor:
        """Token pyramid -> final f_hat."""
        f_hat = None
        for si, (idx, pn) in enumerate(zip(ids, self.patch_nums, strict=True)):
            h = self.quantize.embed(idx, pn)
            if f_hat is None:
                size = self.patch_nums[-1]
                f_hat = h.new_zeros(h.shape[0], h.shape[1], size, size)
            self.quantize.add_scale_(f_hat, si, h)
        return f_hat
