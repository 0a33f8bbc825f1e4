"""Read VAREdit's files by role and place the model: transformer, BSQ VAE, T5 folder.

Each file is read with ``read_state_dict`` (safetensors memory-mapped, ``.pth`` with
``weights_only=True``; the VAE's ``{"vae": ...}`` container is unwrapped there), built strictly
by :mod:`engine.models.infinity.build` and placed as the :class:`MemoryStrategy` says.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

import torch

from engine.api.memory import RESIDENT, MemoryStrategy
from engine.models.infinity.bsq_vae import BSQVae
from engine.models.infinity.build import build_transformer, build_vae, resolution_for
from engine.models.infinity.family import InfinityEditModel
from engine.models.infinity.text import T5TextEncoder
from engine.models.infinity.transformer import InfinityTransformer
from engine.runtime.cancel import UserFacingError
from engine.runtime.devices import resolve_device, resolve_dtype
from engine.store.checkpoint import Progress, read_state_dict
from engine.store.tensor_stream import SafetensorsStream

FileProgress = Callable[[str, int, int], None]  # (file name, bytes done, bytes total)
ROLES = ("vae", "transformer", "text_encoder")


def load_transformer(
    path: str,
    progress: Progress | None = None,
    block_dtype: torch.dtype = torch.float32,
    int8_blocks: bool = False,
) -> InfinityTransformer:
    """The transformer with its blocks in ``block_dtype`` (or int8), converted tensor by
    tensor as read: safetensors by plain reads, ``.pth`` through a memory map."""
    if path.endswith(".safetensors"):
        state = SafetensorsStream(path, progress)
    else:
        state = read_state_dict(path, progress=progress)
    return build_transformer(state, os.path.basename(path), block_dtype, int8_blocks)


def load_vae(path: str, progress: Progress | None = None) -> BSQVae:
    return build_vae(read_state_dict(path, progress=progress), os.path.basename(path))


def with_text_folder(files: Mapping[str, str]) -> dict[str, str]:
    """Registry installs list the T5 folder's files one by one (roles ``t5:<name>``, all in one
    hub snapshot folder); the text encoder role is that folder."""
    files = dict(files)
    t5 = [path for role, path in files.items() if role.startswith("t5:")]
    if not files.get("text_encoder") and t5:
        folders = {os.path.dirname(path) for path in t5}
        if len(folders) != 1:
            raise UserFacingError("The flan-t5-xl files are not in one folder; import it again.")
        files["text_encoder"] = folders.pop()
    return files


def load_varedit_files(
    files: Mapping[str, str],
    device: str = "cpu",
    dtype: str = "fp32",
    patch_nums: tuple[int, ...] | None = None,
    progress: FileProgress | None = None,
    strategy: MemoryStrategy = RESIDENT,
) -> InfinityEditModel:
    """The family loader: ``files`` by role ``vae``, ``transformer``, ``text_encoder`` (a Hugging
    Face T5 folder); ``patch_nums`` (token sides, e.g. 1..16 for 256 px) picks the resolution;
    ``strategy`` places the model (int8 blocks, streamed blocks, where T5 runs)."""
    files = with_text_folder(files)
    missing = [role for role in ROLES if not files.get(role)]
    if missing:
        raise UserFacingError(f"A VAREdit model needs its {' and '.join(missing)} file(s).")
    torch_device, torch_dtype = resolve_device(device), resolve_dtype(dtype)

    def report(path: str) -> Progress | None:
        name = os.path.basename(path)
        return None if progress is None else lambda done, total: progress(name, done, total)

    transformer = load_transformer(
        files["transformer"], report(files["transformer"]), torch_dtype, strategy.int8_blocks
    )
    if strategy.stream_blocks:
        transformer.stream_blocks(torch_device)
    else:
        transformer.to(torch_device)
    vae = load_vae(files["vae"], report(files["vae"]))
    return InfinityEditModel(
        transformer,
        vae.to(torch_device),
        text_encoder(files["text_encoder"], torch_device, torch_dtype, strategy.text_encoder),
        resolution_for(files["transformer"], patch_nums),
        os.path.basename(files["transformer"]),
        torch_device,
        torch_dtype,
    )


def text_encoder(
    folder: str, device: torch.device, dtype: torch.dtype, placement: str
) -> T5TextEncoder:
    """T5 on the device (half precision only on a GPU, as the reference runs it), on the CPU
    in fp32 (only the features move), or on the device and freed after each encode."""
    if placement == "cpu":
        return T5TextEncoder(folder, "cpu", torch.float32)
    text_dtype = dtype if device.type == "cuda" else torch.float32
    return T5TextEncoder(folder, device, text_dtype, release_after=placement == "release")
