"""Build a VAR + VQVAE pair from state dicts, strictly, in the precision it runs in."""

from __future__ import annotations

import torch

from engine.models.strict import check_strict, load_strict
from engine.models.var.config import infer_var_config, infer_vqvae_config
from engine.models.var.transformer import VAR
from engine.models.var.vqvae import VQVAE

# What ``VAR.set_block_dtype`` runs in low precision.
BLOCK_PREFIXES = ("blocks.", "shared_ada_lin.")


def placed_state(
    state: dict[str, torch.Tensor], block_dtype: torch.dtype = torch.float32
) -> dict[str, torch.Tensor]:
    """Each floating tensor in the precision it will run in, cast one at a time.

    Half-precision files (``finescale models import --convert fp16``, the demo model) load into
    float32 models; tensors already in their run precision stay memory-mapped, uncopied.
    """
    placed = {}
    for key, tensor in state.items():
        if tensor.is_floating_point():
            wanted = block_dtype if key.startswith(BLOCK_PREFIXES) else torch.float32
            tensor = tensor.to(wanted)
        placed[key] = tensor
    return placed


def meta_var(state, patch_nums: tuple[int, ...] | None, name: str) -> VAR:
    """A VAR shaped after ``state`` on the meta device: no init, no memory."""
    config = infer_var_config(state, patch_nums, name)
    with torch.device("meta"):
        return VAR(config)


def meta_vqvae(state, patch_nums: tuple[int, ...], name: str) -> VQVAE:
    config = infer_vqvae_config(state, patch_nums, name)
    with torch.device("meta"):
        return VQVAE(config)


def _own_ema(vqvae: VQVAE, state):
    """The quantizer's hit statistics depend on the scale count only; the reference substitutes
    its own buffer when they differ, so a VQVAE trained with another schedule still loads."""
    ema = "quantize.ema_vocab_hit_SV"
    own = vqvae.quantize.ema_vocab_hit_SV
    if ema in state and tuple(state[ema].shape) != tuple(own.shape):
        return {**state, ema: torch.zeros(own.shape, dtype=own.dtype)}
    return state


def check_var_state(state, name: str) -> None:
    """The strict check of loading, on shapes only (what ``models import`` runs)."""
    check_strict(meta_var(state, None, name), state, name)


def check_vqvae_state(state, name: str, patch_nums: tuple[int, ...]) -> None:
    vqvae = meta_vqvae(state, patch_nums, name)
    check_strict(vqvae, _own_ema(vqvae, state), name)


def build_models(
    vae_state: dict[str, torch.Tensor],
    var_state: dict[str, torch.Tensor],
    patch_nums: tuple[int, ...] | None = None,
    names: tuple[str, str] = ("VQVAE", "VAR"),
    block_dtype: torch.dtype = torch.float32,
) -> tuple[VQVAE, VAR]:
    """Instantiate both models from their state dicts (configs inferred) and load strictly."""
    vae_state, var_state = placed_state(vae_state), placed_state(var_state, block_dtype)
    var = meta_var(var_state, patch_nums, names[1])
    vqvae = meta_vqvae(vae_state, var.cfg.patch_nums, names[0])
    vae_state = _own_ema(vqvae, vae_state)
    load_strict(vqvae, vae_state, names[0])
    load_strict(var, var_state, names[1])
    vqvae.eval().requires_grad_(False)
    var.eval().requires_grad_(False)
    return vqvae, var
