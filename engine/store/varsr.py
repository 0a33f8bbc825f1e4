"""Load VARSR as released: trainer containers (``torch.load(weights_only=True)``) or safetensors.

The released ``VARSR.pth`` / ``VQVAE.pth`` are training checkpoints
``{'trainer': {'var_wo_ddp': ..., 'vae_local': ..., ...}, ...}``; only those two entries are
read. ``weights_only=True`` rebuilds tensors and plain containers only, so a file carrying any
other object is refused with the object's name rather than unpickled. ``mmap`` keeps an
optimiser state that may sit in the same file from ever being read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

import torch

from engine.models.varsr.build import VARSRModels, build_varsr
from engine.models.varsr.family import VARSRFamily
from engine.runtime.cancel import UserFacingError
from engine.runtime.devices import resolve_device, resolve_dtype
from engine.store.checkpoint import read_state_dict, torch_load

TRANSFORMER_KEY = "var_wo_ddp"
VAE_KEY = "vae_local"


def read_container(path: str, key: str) -> dict[str, torch.Tensor]:
    """``{key: tensor}`` of one model from a trainer container, a bare state dict or safetensors."""
    name = os.path.basename(path)
    if path.endswith(".safetensors") or not os.path.isfile(path):
        return read_state_dict(path)  # also names a missing or empty file
    if os.path.getsize(path) == 0:
        raise UserFacingError(f"{name}: the checkpoint file is empty.")
    loaded = torch_load(path, name)
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


def load_varsr_files(
    files: Mapping[str, str],
    device: str = "cpu",
    dtype: str = "fp32",
    patch_nums: tuple[int, ...] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> VARSRFamily:
    """The family loader: ``files`` by role, ``transformer`` (VARSR.pth) and ``vae`` (VQVAE.pth).

    VARSR's schedule is fixed by its checkpoint; ``patch_nums`` and ``progress`` are accepted
    for the loader signature only.
    """
    missing = [role for role in ("transformer", "vae") if not files.get(role)]
    if missing:
        raise UserFacingError(f"A VARSR model needs its {' and '.join(missing)} file.")
    return VARSRFamily(load_varsr(files["transformer"], files["vae"], device, dtype))


def is_varsr_checkpoint(path: str) -> bool:
    """Whether a transformer file is VARSR's (its LR prefix encoder), without loading it."""
    if path.endswith(".safetensors"):
        from safetensors import safe_open

        try:
            with safe_open(path, framework="pt") as handle:
                names = set(handle.keys())
            return "con_embedding.conv_in.weight" in names
        except (OSError, ValueError, RuntimeError):
            return False
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        return False
    try:
        loaded = torch_load(path, os.path.basename(path))
    except UserFacingError:
        return False
    if isinstance(loaded, Mapping) and isinstance(loaded.get("trainer"), Mapping):
        loaded = loaded["trainer"].get(TRANSFORMER_KEY, {})
    return isinstance(loaded, Mapping) and "con_embedding.conv_in.weight" in loaded
