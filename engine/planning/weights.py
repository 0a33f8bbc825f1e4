"""Bytes of the weights a loader creates, per model part, without reading any file.

The Infinity/VAREdit transformer is counted from its config by formula (the 2B/8B test checks
the formula against the module built on the meta device); the other families are built on the
meta device and walked, so every buffer the loader keeps is counted. Blocks run in the run
dtype, everything else stays as the loaders keep it (float32), like ``set_block_dtype``.
int8 blocks (the low-memory loader's format): each block ``nn.Linear`` weight in int8 plus one
float32 scale per output channel; biases and norms stay in the run dtype.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

from engine.models.infinity.bsq_vae import BSQVae, VaeConfig
from engine.models.infinity.config import TEXT_MAXLEN, InfinityConfig
from engine.models.var.transformer import VAR, VARConfig
from engine.models.var.vqvae import VQVAE, VQVAEConfig
from engine.models.varsr.transformer import VARSRConfig, VARSRTransformer

FP32 = 4
INT8_SCALE = 4  # one float32 scale per output channel


@dataclass(frozen=True)
class TransformerBytes:
    """The transformer split as the strategies move it: the rest, and each block."""

    rest: int  # embeddings, text projections, head: float32, always resident
    block: int  # one transformer block in the run dtype (or int8)
    depth: int

    @property
    def total(self) -> int:
        return self.rest + self.depth * self.block

    def resident(self, stream: bool) -> int:
        """On the device: everything, or the rest plus the two blocks streaming keeps there."""
        return self.rest + (min(2, self.depth) if stream else self.depth) * self.block


def infinity_bytes(cfg: InfinityConfig, dtype_bytes: int, int8: bool) -> TransformerBytes:
    """The formula for :class:`~engine.models.infinity.transformer.InfinityTransformer`."""
    C, T, F, H, d = cfg.embed_dim, cfg.text_dim, cfg.ffn_hidden, cfg.num_heads, cfg.token_dim
    rest = (
        TEXT_MAXLEN * T  # cfg_uncond
        + C  # pos_start
        + T  # text_norm
        + C + 2 * C * T + 2 * C + C * C + C  # text_proj_for_sos: mat_q, mat_kv, biases, proj
        + T * C + C + C * C + C  # text_proj_for_ca
        + cfg.lvl_rows * C  # lvl_embed
        + C * d + C  # word_embed
        + 6 * C * C + 6 * C  # shared_ada_lin
        + 2 * C * C + 2 * C  # head_nm
        + 2 * d * C + 2 * d  # head
    )  # fmt: skip
    linear_weights = 3 * C * C + C * C + C * C + 2 * C * C + C * C + 2 * C * F
    out_channels = 3 * C + C + C + 2 * C + C + F + C
    others = 6 * C + H + 4 * C + 4 * C + F + C + 2 * C  # gss, sa, ca biases, ffn biases, norm
    if int8:
        block = linear_weights + out_channels * INT8_SCALE + others * dtype_bytes
    else:
        block = (linear_weights + others) * dtype_bytes
    return TransformerBytes(rest * FP32, block, cfg.depth)


def _tensor_bytes(module: nn.Module, int8: bool) -> int:
    total = 0
    linear_weights = set()
    if int8:
        for sub in module.modules():
            if isinstance(sub, nn.Linear):
                linear_weights.add(id(sub.weight))
                total += sub.weight.numel() + sub.out_features * INT8_SCALE
    for tensor in (*module.parameters(), *module.buffers()):
        if id(tensor) not in linear_weights:
            total += tensor.numel() * tensor.element_size()
    return total


def walked_bytes(
    model: nn.Module, blocks: nn.ModuleList, extra: tuple[nn.Module, ...], dtype: torch.dtype,
    int8: bool,
) -> TransformerBytes:  # fmt: skip
    """Cast ``blocks`` (and ``extra``, which the loader casts too) on the meta device and sum.

    ``extra`` modules count with the rest: they are cast but never streamed.
    """
    blocks.to(dtype)
    for module in extra:
        module.to(dtype)
    block_sizes = [_tensor_bytes(block, int8) for block in blocks]
    everything = _tensor_bytes(model, False)
    in_blocks = sum(_tensor_bytes(block, False) for block in blocks)
    per_block = max(block_sizes) if block_sizes else 0
    return TransformerBytes(everything - in_blocks, per_block, len(block_sizes))


@lru_cache(maxsize=64)
def var_bytes(cfg: VARConfig, dtype: torch.dtype, int8: bool) -> TransformerBytes:
    """VAR as ``engine.store.loaders.load_model`` keeps it (blocks + shared AdaLN cast)."""
    with torch.device("meta"):
        model = VAR(cfg)
    return walked_bytes(model, model.blocks, (model.shared_ada_lin,), dtype, int8)


@lru_cache(maxsize=64)
def varsr_bytes(cfg: VARSRConfig, dtype: torch.dtype, int8: bool) -> TransformerBytes:
    """VARSR as ``engine.store.varsr.load_varsr`` keeps it (only ``blocks`` cast)."""
    with torch.device("meta"):
        model = VARSRTransformer(cfg)
    return walked_bytes(model, model.blocks, (), dtype, int8)


@lru_cache(maxsize=64)
def vae_bytes(cfg: VaeConfig | VQVAEConfig) -> int:
    """Either VAE, float32 as both loaders keep it."""
    with torch.device("meta"):
        vae = BSQVae(cfg) if isinstance(cfg, VaeConfig) else VQVAE(cfg)
    return _tensor_bytes(vae, False)
