"""Build VARSR's two models from state dicts: configurations inferred, loaded strictly.

Reading files (trainer containers, safetensors) is the store's job: ``engine.store.varsr``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from engine.models.strict import load_strict
from engine.models.var.config import infer_vqvae_config
from engine.models.varsr.config import infer_varsr_config
from engine.models.varsr.transformer import VARSRTransformer
from engine.models.varsr.vqvae import VARSRVQVAE


@dataclass
class VARSRModels:
    transformer: VARSRTransformer
    vqvae: VARSRVQVAE
    device: torch.device
    dtype: torch.dtype
    name: str

    @property
    def patch_nums(self) -> tuple[int, ...]:
        return self.transformer.cfg.patch_nums

    @property
    def resolution(self) -> int:
        """Output window side: 512 for the released model."""
        return self.patch_nums[-1] * self.vqvae.cfg.downsample


def build_varsr(
    var_state: Mapping[str, torch.Tensor],
    vae_state: Mapping[str, torch.Tensor],
    names: tuple[str, str] = ("VARSR", "VQVAE"),
) -> tuple[VARSRTransformer, VARSRVQVAE]:
    """Both models from their state dicts, configurations inferred, loaded strictly (float32)."""
    var_state = {k: v.float() if v.is_floating_point() else v for k, v in var_state.items()}
    vae_state = {k: v.float() for k, v in vae_state.items()}
    cfg = infer_varsr_config(var_state, names[0])
    vae_cfg = infer_vqvae_config(vae_state, cfg.patch_nums)
    with torch.device("meta"):
        transformer, vqvae = VARSRTransformer(cfg), VARSRVQVAE(vae_cfg)
    ema = "quantize.ema_vocab_hit_SV"  # a training statistic sized by the schedule only
    if ema in vae_state and vae_state[ema].shape != vqvae.quantize.ema_vocab_hit_SV.shape:
        vae_state = {**vae_state, ema: torch.zeros(vqvae.quantize.ema_vocab_hit_SV.shape)}
    load_strict(transformer, var_state, names[0])
    load_strict(vqvae, vae_state, names[1])
    return transformer.eval().requires_grad_(False), vqvae.eval().requires_grad_(False)
