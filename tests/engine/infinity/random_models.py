"""Tiny random Infinity models in the released key layout (for mechanics, not parity)."""

from __future__ import annotations

import torch

from engine.models.infinity.bsq_vae import BSQVae, VaeConfig
from engine.models.infinity.config import InfinityConfig
from engine.models.infinity.transformer import InfinityTransformer


def randomize(module: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """A state dict with every float tensor drawn small and seeded (buffers kept)."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, tensor in module.state_dict().items():
        if key.endswith("zero_k_bias") or not tensor.is_floating_point():
            state[key] = tensor.clone()
        elif key.endswith(("norm.weight", "norm1.norm.weight", "norm2.norm.weight")):
            state[key] = 1 + 0.05 * torch.randn(tensor.shape, generator=g)
        else:
            fan_in = tensor.shape[-1] if tensor.ndim > 1 else 8
            if tensor.ndim == 4:
                fan_in = tensor.shape[1] * tensor.shape[2] * tensor.shape[3]
            state[key] = torch.randn(tensor.shape, generator=g) / fan_in**0.5
    return state


def tiny_config(token_dim: int = 32) -> InfinityConfig:
    return InfinityConfig(
        embed_dim=64,
        depth=2,
        block_chunks=2,
        num_heads=2,
        ffn_hidden=128,
        token_dim=token_dim,
        text_dim=128,
        pool_heads=1,
        lvl_rows=15,
    )


def stride8_vae_config(bits: int = 8) -> VaeConfig:
    """The 8B VAE's layout (4 levels, 3 down-samples) at the smallest width."""
    return VaeConfig(32, (1, 1, 2, 2), 1, bits, (0, 1, 2), (1, 2, 3))


def random_transformer_state(token_dim: int = 32, seed: int = 0) -> dict[str, torch.Tensor]:
    return randomize(InfinityTransformer(tiny_config(token_dim)), seed)


def random_vae_state(cfg: VaeConfig, seed: int = 1) -> dict[str, torch.Tensor]:
    state = randomize(BSQVae(cfg), seed)
    mask = 2 ** torch.arange(cfg.bits - 1, -1, -1)
    state["quantizer.lfq.mask"] = mask
    state["quantize.lfq.mask"] = mask
    return state
