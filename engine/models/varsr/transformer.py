"""VARSR's transformer ``VAR_RoPE``, inference only, released state-dict layout.

Differences from VAR (``engine.models.var``): the sequence starts with 1024 LR-image tokens from
a conv prefix encoder plus one class token (``pos_start`` covers those 1025 positions; there is
no ``pos_1LC``), positions are 2-D RoPE applied after the L2 normalisation of q and k, the class
embedding has no null row (CFG's negative is label 1 = "low quality"), and ``decoder_norm``
conditions the diffusion refiner stored under ``diffloss``.
Legend: B batch, L positions, C width, H heads, c head width (64), V vocabulary.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.models.layers import embedding
from engine.models.var.transformer import AdaLNBeforeHead, AdaLNSelfAttn, SelfAttention, VARConfig
from engine.models.varsr.refiner import Refiner
from engine.models.varsr.rope import precompute_freqs, rope_grids, rotate


@dataclass(frozen=True)
class VARSRConfig:
    depth: int = 24
    embed_dim: int = 1536
    num_heads: int = 24
    vocab_size: int = 4096
    z_channels: int = 32
    num_classes: int = 2
    patch_nums: tuple[int, ...] = (1, 2, 3, 4, 6, 9, 13, 18, 24, 32)
    prefix_channels: tuple[int, ...] = (32, 128, 256, 512, 1536)
    refiner_width: int = 1024
    refiner_depth: int = 6
    mlp_ratio: float = 4.0
    norm_eps: float = 1e-6

    @property
    def prefix_len(self) -> int:
        """LR tokens + class token."""
        return self.patch_nums[-1] ** 2 + 1

    @property
    def seq_len(self) -> int:
        return self.prefix_len - 1 + sum(pn * pn for pn in self.patch_nums)

    @property
    def lr_size(self) -> int:
        """The LR window side the prefix encoder expects (16x down to the finest grid)."""
        return self.patch_nums[-1] * 2 ** (len(self.prefix_channels) - 1)

    def block_config(self) -> VARConfig:
        return VARConfig(
            depth=self.depth,
            embed_dim=self.embed_dim,
            num_heads=self.num_heads,
            vocab_size=self.vocab_size,
            z_channels=self.z_channels,
            num_classes=self.num_classes,
            patch_nums=self.patch_nums,
            mlp_ratio=self.mlp_ratio,
            norm_eps=self.norm_eps,
        )


class PrefixEncoder(nn.Module):
    """``con_embedding``: conv 3x3, then per stage [conv c->c, conv c->c' stride 2], SiLU after
    each, and a final conv to the transformer width: (B, 3, 512, 512) -> (B, C, 32, 32)."""

    def __init__(self, out_channels: int, channels: Sequence[int]):
        super().__init__()
        self.conv_in = nn.Conv2d(3, channels[0], 3, padding=1)
        self.blocks = nn.ModuleList()
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
            self.blocks.append(nn.Conv2d(c_in, c_in, 3, padding=1))
            self.blocks.append(nn.Conv2d(c_in, c_out, 3, padding=1, stride=2))
        self.conv_out = nn.Conv2d(channels[-1], out_channels, 3, padding=1)

    def forward(self, lr_B3HW: torch.Tensor) -> torch.Tensor:
        x = F.silu(self.conv_in(lr_B3HW))
        for conv in self.blocks:
            x = F.silu(conv(x))
        return self.conv_out(x)


class RoPESelfAttention(SelfAttention):
    """VAR's L2-normalised attention, then RoPE on q and k (cached keys are post-RoPE)."""

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, freqs: torch.Tensor, attn_bias: torch.Tensor | None
    ) -> torch.Tensor:
        B, L, C = x.shape
        bias = torch.cat((self.q_bias, self.zero_k_bias, self.v_bias))
        qkv = F.linear(x, self.mat_qkv.weight, bias).view(B, L, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each B H L c
        scale_mul = self.scale_mul_1H11.clamp_max(self.max_scale_mul).exp()
        q = rotate(F.normalize(q, dim=-1).mul(scale_mul), freqs)
        k = rotate(F.normalize(k, dim=-1), freqs)
        if self.caching:
            if self.cached_k is not None:
                k = torch.cat((self.cached_k, k), dim=2)
                v = torch.cat((self.cached_v, v), dim=2)
            self.cached_k, self.cached_v = k, v
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_bias, scale=1.0)
        return self.proj(out.transpose(1, 2).reshape(B, L, C))


class RoPEBlock(AdaLNSelfAttn):
    """VAR's AdaLN block with the RoPE attention."""

    def __init__(self, cfg: VARConfig):
        super().__init__(cfg)
        self.attn = RoPESelfAttention(cfg.embed_dim, cfg.num_heads)

    def forward(  # type: ignore[override]
        self,
        x: torch.Tensor,
        cond: torch.Tensor,
        freqs: torch.Tensor,
        attn_bias: torch.Tensor | None,
    ) -> torch.Tensor:
        gamma1, gamma2, scale1, scale2, shift1, shift2 = (
            self.ada_lin(cond).view(-1, 1, 6, self.C).unbind(2)
        )
        h = self.ln_wo_grad(x).mul(scale1.add(1)).add_(shift1)
        x = x + self.attn(h, freqs, attn_bias).mul_(gamma1)
        h = self.ln_wo_grad(x).mul(scale2.add(1)).add_(shift2)
        return x + self.ffn(h).mul(gamma2)


def _level_index(patch_nums: Sequence[int]) -> torch.Tensor:
    prefix = torch.zeros(patch_nums[-1] ** 2 + 1, dtype=torch.long)
    levels = [torch.full((pn * pn,), si) for si, pn in enumerate(patch_nums) if si > 0]
    return torch.cat((prefix, *levels)).view(1, -1)


class VARSRTransformer(nn.Module):
    """Released keys: ``pos_start``, ``lvl_1L``, ``attn_bias_for_masking``, ``con_embedding``,
    ``word_embed``, ``class_emb``, ``lvl_embed``, ``blocks``, ``head_nm``, ``head``,
    ``decoder_norm``, ``diffloss.net``."""

    def __init__(self, cfg: VARSRConfig):
        super().__init__()
        self.cfg = cfg
        C, L = cfg.embed_dim, cfg.seq_len
        self.pos_start = nn.Parameter(torch.zeros(1, cfg.prefix_len, C))
        lvl_1L = _level_index(cfg.patch_nums)
        self.register_buffer("lvl_1L", lvl_1L)
        visible = lvl_1L.view(L, 1) >= lvl_1L.view(1, L)
        bias = torch.where(visible, 0.0, -torch.inf).reshape(1, 1, L, L)
        self.register_buffer("attn_bias_for_masking", bias.contiguous())
        self.con_embedding = PrefixEncoder(C, cfg.prefix_channels)
        self.word_embed = nn.Linear(cfg.z_channels, C)
        self.class_emb = embedding(cfg.num_classes, C)
        self.lvl_embed = embedding(len(cfg.patch_nums), C)
        block_cfg = cfg.block_config()
        self.blocks = nn.ModuleList(RoPEBlock(block_cfg) for _ in range(cfg.depth))
        self.head_nm = AdaLNBeforeHead(C, cfg.norm_eps)
        self.head = nn.Linear(C, cfg.vocab_size)
        self.decoder_norm = nn.LayerNorm(C, eps=cfg.norm_eps)
        self.diffloss = Refiner(cfg.z_channels, cfg.refiner_width, C, cfg.refiner_depth)
        self.freqs = precompute_freqs(C // cfg.num_heads, rope_grids(cfg.patch_nums))

    @property
    def negative_label(self) -> int:
        return self.cfg.num_classes - 1

    @contextlib.contextmanager
    def kv_cache(self) -> Iterator[None]:
        """Per-block KV caches for one sampling call; always cleared, even on cancel."""
        for block in self.blocks:
            block.attn.caching, block.attn.cached_k, block.attn.cached_v = True, None, None
        try:
            yield
        finally:
            for block in self.blocks:
                block.attn.caching, block.attn.cached_k, block.attn.cached_v = False, None, None

    def prefix_tokens(self, lr_B3HW: torch.Tensor) -> torch.Tensor:
        """LR image in [-1, 1] -> (B, 1024, C) tokens, row-major."""
        side = self.cfg.lr_size
        if tuple(lr_B3HW.shape[-2:]) != (side, side):
            raise ValueError(f"VARSR's LR window is {side}x{side}, got {tuple(lr_B3HW.shape)}")
        f = self.con_embedding(lr_B3HW)
        return f.view(f.shape[0], self.cfg.embed_dim, -1).permute(0, 2, 1)

    def run_blocks(
        self,
        x_BLC: torch.Tensor,
        cond_BD: torch.Tensor,
        freqs: torch.Tensor,
        attn_bias: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Hidden states after the last block (the refiner's condition at the last scale)."""
        dtype = self.blocks[0].attn.mat_qkv.weight.dtype
        freqs, cond = freqs.to(x_BLC.device), cond_BD.to(dtype)
        x_BLC = x_BLC.to(dtype)
        bias = None if attn_bias is None else attn_bias.to(dtype)
        for block in self.blocks:
            x_BLC = block(x_BLC, cond, freqs, bias)
        return x_BLC

    def logits(self, h_BLC: torch.Tensor, cond_BD: torch.Tensor) -> torch.Tensor:
        return self.head(self.head_nm(h_BLC.float(), cond_BD).float()).float()

    def forward(
        self, lr_B3HW: torch.Tensor, label_B: torch.Tensor, x_BLCv_wo_first_l: torch.Tensor
    ) -> torch.Tensor:
        """Teacher-forced logits (B, 2240, V) for a known pyramid (training path, for parity).

        Position 0 of the result is the class-token position, which predicts the 1x1 scale.
        """
        cond_BD = self.class_emb(label_B)
        sos = torch.cat((self.prefix_tokens(lr_B3HW), cond_BD.unsqueeze(1)), dim=1)
        sos = sos + self.pos_start.expand(label_B.shape[0], -1, -1)
        x = torch.cat((sos, self.word_embed(x_BLCv_wo_first_l.float())), dim=1)
        x = x + self.lvl_embed(self.lvl_1L.expand(label_B.shape[0], -1))
        h = self.run_blocks(x, cond_BD, self.freqs, self.attn_bias_for_masking)
        return self.logits(h[:, self.cfg.prefix_len - 1 :], cond_BD)
