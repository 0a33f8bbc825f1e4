"""Load VARSR as released: trainer containers (``torch.load(weights_only=True)``) or safetensors.

The released ``VARSR.pth`` / ``VQVAE.pth`` are training checkpoints
``{'trainer': {'var_wo_ddp': ..., 'vae_local': ..., ...}, ...}``; only those two entries are
read. ``weights_only=True`` rebuilds tensors and plain containers only, so a file carrying any
other object is refused with the object's name rather than unpickled. ``mmap`` keeps an
optimiser state that may sit in the same file from ever being read.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from engine.models.var.config import infer_vqvae_config
from engine.models.varsr.config import infer_varsr_config
from engine.models.varsr.transformer import VARSRTransformer
from engine.models.varsr.vqvae import VARSRVQVAE
from engine.runtime.cancel import UserFacingError
from engine.runtime.devices import resolve_device, resolve_dtype
from engine.store.checkpoint import load_strict, read_state_dict

TRANSFORMER_KEY = "var_wo_ddp"
VAE_KEY = "vae_local"


def _load_pickle(path: str, name: str) -> object:
    try:
        is_zip = zipfile.is_zipfile(path)
    except OSError:
        is_zip = False
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        what = f" ({found.group(1)})" if found else ""
        raise UserFacingError(
            f"{name}: refused to load: the file holds an object other than tensors{what}, "
            "which VARSR's weights never need."
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise UserFacingError(f"{name}: the checkpoint is truncated or corrupt ({exc}).") from exc


def read_container(path: str, key: str) -> dict[str, torch.Tensor]:
    """``{key: tensor}`` of one model from a trainer container, a bare state dict or safetensors."""
    name = os.path.basename(path)
    if path.endswith(".safetensors") or not os.path.isfile(path):
        return read_state_dict(path)  # also names a missing or empty file
    if os.path.getsize(path) == 0:
        raise UserFacingError(f"{name}: the checkpoint file is empty.")
    loaded = _load_pickle(path, name)
    if isinstance(loaded, Mapping) and isinstance(loaded.get("trainer"), Mapping):
        trainer = loaded["trainer"]
        if key not in trainer:
            found = ", ".join(sorted(map(str, trainer))) or "nothing"
            raise UserFacingError(f"{name}: the trainer checkpoint has no '{key}' ({found}).")
        loaded = trainer[key]
    if not isinstance(loaded, Mapping) or not all(
        isinstance(value, torch.Tensor) for value in loaded.values()
    ):
        raise UserFacingError(f"{name}: not a VARSR checkpoint (expected tensors under '{key}').")
    return dict(loaded)


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


def load_varsr(
    transformer_path: str, vae_path: str, device: str = "cpu", dtype: str = "fp32"
) -> VARSRModels:
    """Read, check and place VARSR.pth (or .safetensors) + VQVAE.pth (or .safetensors)."""
    torch_device, torch_dtype = resolve_device(device), resolve_dtype(dtype)
    names = (os.path.basename(transformer_path), os.path.basename(vae_path))
    transformer, vqvae = build_varsr(
        read_container(transformer_path, TRANSFORMER_KEY),
        read_container(vae_path, VAE_KEY),
        names,
    )
    transformer.to(torch_device)
    vqvae.to(torch_device)
    if torch_dtype != torch.float32:
        transformer.blocks.to(torch_dtype)
    return VARSRModels(transformer, vqvae, torch_device, torch_dtype, names[0])


def convert_to_safetensors(path: str, key: str, out_path: str) -> str:
    """Write one model of a trainer container as a flat .safetensors file (import step)."""
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in read_container(path, key).items()}
    tmp = out_path + ".part"
    save_file(state, tmp)
    os.replace(tmp, out_path)
    return out_path
