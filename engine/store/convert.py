"""Rewrite a checkpoint as ``.safetensors``, optionally in half precision.

Pickled ``.pth`` files must be read whole before use; a ``.safetensors`` copy is memory-mapped,
so loading it costs no second copy in RAM, and an fp16/bf16 copy halves disk and memory. The
quantizer's codebook (``quantize.*``) always stays float32: it decides every token id, is tiny,
and rounding it would change which codes the tokenizer picks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch

from engine.runtime.cancel import CancelToken, UserFacingError
from engine.store.checkpoint import read_state_dict
from engine.store.locations import require_space

CONVERT_DTYPES: dict[str, torch.dtype | None] = {
    "keep": None,
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
}
FULL_PRECISION_PREFIXES = ("quantize.",)


def converted_state(
    state: Mapping[str, torch.Tensor], dtype: str, token: CancelToken | None = None
) -> dict[str, torch.Tensor]:
    """Cast floating tensors (codebook excepted) and give each tensor its own storage."""
    if dtype not in CONVERT_DTYPES:
        raise UserFacingError(
            f"Unknown precision '{dtype}': use one of {', '.join(CONVERT_DTYPES)}."
        )
    target = CONVERT_DTYPES[dtype]
    out: dict[str, torch.Tensor] = {}
    storages: set[int] = set()
    for key, tensor in state.items():
        if token is not None:
            token.raise_if_cancelled()
        keep = target is None or key.startswith(FULL_PRECISION_PREFIXES)
        if tensor.is_floating_point() and not keep:
            tensor = tensor.to(target)
        tensor = tensor.contiguous()
        storage = tensor.untyped_storage().data_ptr()
        if storage in storages:  # tied weights: safetensors refuses shared storage
            tensor = tensor.clone()
        storages.add(tensor.untyped_storage().data_ptr())
        out[key] = tensor
    return out


def convert_checkpoint(
    source: str | os.PathLike,
    dest: str | os.PathLike,
    dtype: str = "keep",
    token: CancelToken | None = None,
) -> Path:
    """Write ``source`` as a ``.safetensors`` file at ``dest`` atomically; returns ``dest``."""
    from safetensors.torch import save_file

    source, dest = Path(source), Path(dest)
    if dest.suffix != ".safetensors":
        raise UserFacingError(f"{dest.name}: a converted checkpoint must end in .safetensors.")
    state = converted_state(read_state_dict(str(source)), dtype, token)
    needed = sum(t.numel() * t.element_size() for t in state.values())
    dest.parent.mkdir(parents=True, exist_ok=True)
    require_space(dest.parent, needed, f"{source.name}: converting it")
    tmp = dest.with_name(f".{dest.name}.converting")
    metadata = {"format": "pt", "converted_from": source.name, "precision": dtype}
    try:
        save_file(state, str(tmp), metadata=metadata)
        os.replace(tmp, dest)
    except OSError as exc:
        raise UserFacingError(f"{dest.name}: could not write the converted file ({exc}).") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return dest
