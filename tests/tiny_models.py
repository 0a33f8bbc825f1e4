"""Tiny random VAR + VQVAE checkpoints in the released format, written to disk for tests."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from engine.models.var.transformer import VAR, VARConfig
from engine.models.var.vqvae import VQVAE, VQVAEConfig

TINY_PATCH_NUMS = (1, 2, 3, 4)  # 64 px images, 30 tokens: fast on any CPU


def tiny_models(
    patch_nums: tuple[int, ...] = TINY_PATCH_NUMS,
    depth: int = 2,
    vocab_size: int = 512,
    seed: int = 0,
    shared_aln: bool = False,
) -> tuple[VQVAE, VAR]:
    """Seeded random models; the head is scaled up so sampling is not near-uniform."""
    torch.manual_seed(seed)
    vqvae = VQVAE(VQVAEConfig(ch=32, vocab_size=vocab_size, patch_nums=patch_nums))
    var = VAR(
        VARConfig(
            depth=depth,
            embed_dim=64,
            num_heads=1,
            vocab_size=vocab_size,
            patch_nums=patch_nums,
            shared_aln=shared_aln,
        )
    )
    with torch.no_grad():
        for p in (var.pos_1LC, var.pos_start):
            p.normal_(0, 0.1)
        var.head.weight.mul_(8)
    return vqvae.eval(), var.eval()


def write_tiny_checkpoints(folder: Path, fmt: str = "safetensors", **kwargs) -> tuple[str, str]:
    """Write ``vae.<fmt>`` and ``var.<fmt>``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    vqvae, var = tiny_models(**kwargs)
    paths = []
    for name, module in (("vae", vqvae), ("var", var)):
        state = {k: v.contiguous() for k, v in module.state_dict().items()}
        path = folder / f"{name}.{fmt}"
        if fmt == "safetensors":
            save_file(state, str(path))
        else:
            torch.save(state, path)
        paths.append(str(path))
    return paths[0], paths[1]
