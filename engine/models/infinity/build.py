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
import re
from collections.abc import MutableMapping

import torch

from engine.models.infinity.bsq_vae import BSQVae, canonical_vae_state, infer_vae_config
from engine.models.infinity.config import TEXT_MAXLEN, InfinityConfig, infer_config
from engine.models.infinity.transformer import CrossAttnBlock, InfinityTransformer
from engine.models.int8 import quantize_rows, swap_to_int8
from engine.models.strict import load_strict

# Buffers the reference drops from a checkpoint before loading (derived, never learned).
_DERIVED = ("lvl_1L", "attn_bias_for_masking", "Infinity_visible_kvlen", "Infinity_invisible_qlen")
# The linear layers of a block that int8_blocks quantises (relative to the block).
INT8_LAYERS = ("sa.mat_qkv", "sa.proj", "ca.mat_q", "ca.mat_kv", "ca.proj", "ffn.fc1", "ffn.fc2")
_INT8_WEIGHT = re.compile(
    r"^block_chunks\.\d+\.module\.\d+\.("
    + "|".join(re.escape(layer) for layer in INT8_LAYERS)
    + r")\.weight$"
)


def default_uncond_rows(text_dim: int) -> torch.Tensor:
    """The rows the reference's constructor creates for ``cfg_uncond`` (seed 0): a checkpoint
    with fewer than 512 rows keeps these for the rest, exactly like its ``load_state_dict``."""
    rows = torch.empty(TEXT_MAXLEN, text_dim)
    generator = torch.Generator(device="cpu").manual_seed(0)
    torch.nn.init.trunc_normal_(rows, std=1.2, generator=generator)
    return rows / text_dim**0.5


def int8_layer_names(model: InfinityTransformer) -> list[str]:
    """Every linear layer inside the blocks (self-attn qkv/proj, cross-attn q/kv/proj, FFN)."""
    return [
        f"{prefix}.{layer}"
        for prefix, module in model.named_modules()
        if isinstance(module, CrossAttnBlock)
        for layer in INT8_LAYERS
    ]


def _placed(key: str, tensor: torch.Tensor, block_dtype: torch.dtype) -> torch.Tensor:
    """Block tensors in the run's dtype, the rest float32: one conversion from the file's."""
    if not tensor.is_floating_point():
        return tensor
    return tensor.to(block_dtype if key.startswith("block_chunks.") else torch.float32)


def prepare_transformer_state(
    state: MutableMapping[str, torch.Tensor],
    block_dtype: torch.dtype = torch.float32,
    int8_blocks: bool = False,
) -> dict[str, torch.Tensor]:
    """Released transformer keys -> this module's, in the dtypes the model runs in.

    Tensors are taken out of ``state`` (popped: a lazy reader reads each one only now) and
    converted one at a time straight from the file's dtype, so a bf16 run never holds a whole
    fp32 copy; with ``int8_blocks`` the block linears are quantised here, tensor by tensor.
    """
    out = {}
    for key in list(state):
        tensor = state.pop(key)
        if key in _DERIVED:
            continue
        if int8_blocks and _INT8_WEIGHT.match(key):
            out[key], out[key.removesuffix("weight") + "scale"] = quantize_rows(tensor)
            continue
        tensor = _placed(key, tensor, block_dtype)
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


def transformer_skeleton(
    cfg: InfinityConfig, block_dtype: torch.dtype = torch.float32, int8_blocks: bool = False
) -> InfinityTransformer:
    """The model on the meta device with exactly the tensors (shapes, dtypes) loading creates:
    the strict check of a file, and what a memory planner counts, at no cost."""
    with torch.device("meta"):
        model = InfinityTransformer(cfg)
        model.set_block_dtype(block_dtype)
        if int8_blocks:
            swap_to_int8(model, int8_layer_names(model), block_dtype)
    return model


def build_transformer(
    state: MutableMapping[str, torch.Tensor],
    name: str,
    block_dtype: torch.dtype = torch.float32,
    int8_blocks: bool = False,
) -> InfinityTransformer:
    """The transformer from a released state (consumed), blocks in ``block_dtype``."""
    state = prepare_transformer_state(state, block_dtype, int8_blocks)
    cfg = infer_config(state, name)
    model = transformer_skeleton(cfg, block_dtype, int8_blocks)
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
