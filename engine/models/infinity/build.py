"""Build the BSQ VAE and the Infinity/VAREdit transformer from released state dicts, strictly.

The transformer file is a plain ``torch.save(state_dict)`` (or a safetensors copy); the VAE is
``torch.save({"vae": state_dict})`` (``engine.store.infinity`` reads both). Sizes come from the
tensors; the models are built on the meta device and take the file's tensors (no random init).
Released quirks handled here, as the reference's own loaders do: ``scale_mul_1H11`` saved
(1, 1, H, 1) by the customized flash-attn build, ``cfg_uncond`` padded/truncated to 512 rows,
plain Flux VAE names.
"""

from __future__ import annotations

import os

import torch

from engine.models.infinity.bsq_vae import BSQVae, canonical_vae_state, infer_vae_config
from engine.models.infinity.config import TEXT_MAXLEN, infer_config
from engine.models.infinity.transformer import InfinityTransformer
from engine.models.strict import load_strict

# Buffers the reference drops from a checkpoint before loading (derived, never learned).
_DERIVED = ("lvl_1L", "attn_bias_for_masking", "Infinity_visible_kvlen", "Infinity_invisible_qlen")


def default_uncond_rows(text_dim: int) -> torch.Tensor:
    """The rows the reference's constructor creates for ``cfg_uncond`` (seed 0): a checkpoint
    with fewer than 512 rows keeps these for the rest, exactly like its ``load_state_dict``."""
    rows = torch.empty(TEXT_MAXLEN, text_dim)
    generator = torch.Generator(device="cpu").manual_seed(0)
    torch.nn.init.trunc_normal_(rows, std=1.2, generator=generator)
    return rows / text_dim**0.5


def prepare_transformer_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Released transformer keys -> this module's, fp32 (the runtime dtype is applied later)."""
    out = {}
    for key, tensor in state.items():
        if key in _DERIVED:
            continue
        if tensor.is_floating_point():
            tensor = tensor.float()
        if key.endswith("sa.scale_mul_1H11"):
            tensor = tensor.reshape(1, -1, 1, 1)
        out[key] = tensor
    uncond = out.get("cfg_uncond")
    if uncond is not None and uncond.ndim == 2 and uncond.shape[0] != TEXT_MAXLEN:
        if uncond.shape[0] > TEXT_MAXLEN:
            out["cfg_uncond"] = uncond[:TEXT_MAXLEN]
        else:
            rest = default_uncond_rows(uncond.shape[1])[uncond.shape[0] :]
            out["cfg_uncond"] = torch.cat((uncond, rest))
    return out


def build_transformer(state: dict[str, torch.Tensor], name: str) -> InfinityTransformer:
    state = prepare_transformer_state(state)
    cfg = infer_config(state, name)
    with torch.device("meta"):
        model = InfinityTransformer(cfg)
    load_strict(model, state, name)
    return model.eval().requires_grad_(False)


def build_vae(state: dict[str, torch.Tensor], name: str) -> BSQVae:
    state = canonical_vae_state(state, name)
    cfg = infer_vae_config(state, name)
    with torch.device("meta"):
        vae = BSQVae(cfg)
    load_strict(vae, state, name)
    return vae.eval().requires_grad_(False)


def resolution_for(transformer_path: str, patch_nums: tuple[int, ...] | None) -> int:
    """512 unless the schedule says otherwise or the file is a released ``*-1024`` model."""
    if patch_nums:
        return int(patch_nums[-1]) * 16
    return 1024 if "1024" in os.path.basename(transformer_path) else 512
