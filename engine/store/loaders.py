"""Turn checkpoint files into a loaded model of their family: read, check, build, place.

``FAMILY_LOADERS`` is the one place that maps a family name to the function building it from
its files by role; the model cache calls it, pipelines never do.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping

import torch

from engine.api.memory import RESIDENT, MemoryStrategy
from engine.models.compiled import compile_blocks
from engine.models.family import FamilyModel
from engine.models.infinity.config import SQUARE_SIDES
from engine.models.infinity.t2i import InfinityModel
from engine.models.var.build import build_models
from engine.models.var.family import VarModel
from engine.runtime.cancel import UserFacingError
from engine.runtime.devices import resolve_device, resolve_dtype
from engine.store.checkpoint import read_state_dict
from engine.store.infinity import ROLES, load_varedit_files, with_text_folder
from engine.store.varsr import load_varsr_files

Progress = Callable[[str, int, int], None]  # (file name, bytes done, bytes total)
FamilyLoader = Callable[..., FamilyModel]


def load_model(
    vae_path: str,
    var_path: str,
    device: str = "cpu",
    dtype: str = "fp32",
    patch_nums: tuple[int, ...] | None = None,
    progress: Progress | None = None,
) -> VarModel:
    """Read, check and place a VQVAE + VAR pair."""
    torch_device, torch_dtype = resolve_device(device), resolve_dtype(dtype)
    states = []
    for path in (vae_path, var_path):
        name = os.path.basename(path)

        def report(done: int, total: int, name: str = name) -> None:
            if progress is not None:
                progress(name, done, total)

        states.append(read_state_dict(path, progress=report))
    names = (os.path.basename(vae_path), os.path.basename(var_path))
    vqvae, var = build_models(states[0], states[1], patch_nums, names, torch_dtype)
    del states
    vqvae.to(torch_device)
    var.to(torch_device)
    vqvae.use_channels_last_decoder()
    if torch_device.type == "cpu":
        remap_untouched(vqvae, vae_path)
        remap_untouched(var, var_path)  # after a bf16 cast the fp32 block pages were read
    if torch_dtype != torch.float32:
        var.set_block_dtype(torch_dtype)
    return VarModel(vqvae, var, torch_device, torch_dtype, os.path.basename(var_path))


def remap_untouched(module: torch.nn.Module, path: str) -> None:
    """Point tensors still laid out as in ``path`` at a fresh, untouched mapping of it.

    Making a copy (the channels-last decoder, bf16 blocks) reads the copied tensors' pages of the
    memory-mapped checkpoint, and those pages stay resident for as long as any tensor points
    into that mapping (the encoder, biases, embeddings). Once every such tensor uses a second,
    lazily mapped view of the same file, the first mapping is released. Measured: 247 MiB less
    resident for the released VQVAE; 2452 -> 1052 MiB resident after loading VAR-d16 in bf16
    (the load's own transient peak is unchanged).
    """
    fresh = read_state_dict(path)
    with torch.no_grad():
        for key, tensor in module.state_dict(keep_vars=True).items():
            source = fresh.get(key)
            if (
                source is not None
                and source.dtype == tensor.dtype
                and source.shape == tensor.shape
                and source.stride() == tensor.stride()
            ):
                tensor.data = source


def load_var_files(
    files: Mapping[str, str],
    device: str = "cpu",
    dtype: str = "fp32",
    patch_nums: tuple[int, ...] | None = None,
    progress: Progress | None = None,
) -> VarModel:
    """The family loader: ``files`` by role, ``vae`` and ``transformer``."""
    missing = [role for role in ("vae", "transformer") if not files.get(role)]
    if missing:
        raise UserFacingError(f"A VAR model needs its {' and '.join(missing)} file.")
    return load_model(files["vae"], files["transformer"], device, dtype, patch_nums, progress)


def load_infinity_files(
    files: Mapping[str, str],
    device: str = "cpu",
    dtype: str = "fp32",
    patch_nums: tuple[int, ...] | None = None,
    progress: Progress | None = None,
    strategy: MemoryStrategy = RESIDENT,
) -> InfinityModel:
    """The text-to-image family loader: VAREdit's files by role (one format, the same reader),
    run as Infinity; 1024 px (its inference scripts' ``pn 1M``) unless ``patch_nums`` say."""
    missing = [role for role in ROLES if not with_text_folder(files).get(role)]
    if missing:
        raise UserFacingError(f"An Infinity model needs its {' and '.join(missing)} file(s).")
    parts = load_varedit_files(
        files, device, dtype, patch_nums or SQUARE_SIDES, progress, strategy=strategy
    )
    return InfinityModel.from_edit_model(parts)


FAMILY_LOADERS: dict[str, FamilyLoader] = {
    "var": load_var_files,
    "demo": load_var_files,
    "varedit": load_varedit_files,  # vae, transformer, text_encoder (a T5 folder)
    "infinity": load_infinity_files,  # the same roles
    "varsr": load_varsr_files,
}


# Where each family keeps its repeated transformer blocks (what ``compile`` compiles).
FAMILY_BLOCKS: dict[str, Callable[[FamilyModel], Iterable[torch.nn.Module]]] = {
    "var": lambda model: model.var.blocks,
    "demo": lambda model: model.var.blocks,
    "varedit": lambda model: model.transformer.blocks(),
    "infinity": lambda model: model.transformer.blocks(),
    "varsr": lambda model: model.models.transformer.blocks,
}


# Families whose loader places the model by a MemoryStrategy (int8 / streamed blocks, T5
# placement). VAR and VARSR run resident: VAR-d30 at 256 px is ~4 GB in bf16.
PLACED_BY_STRATEGY = frozenset({"varedit", "infinity"})


def applied_strategy(family: str, strategy: MemoryStrategy) -> MemoryStrategy:
    """The strategy a load of ``family`` really gets (the cache keys the model by it)."""
    return strategy if family in PLACED_BY_STRATEGY else RESIDENT


def load_family(
    family: str,
    files: Mapping[str, str],
    device: str = "cpu",
    dtype: str = "fp32",
    patch_nums: tuple[int, ...] | None = None,
    progress: Progress | None = None,
    *,
    strategy: MemoryStrategy = RESIDENT,
    compile: bool = False,
) -> FamilyModel:
    loader = FAMILY_LOADERS.get(family)
    if loader is None:
        raise UserFacingError(f"Finescale cannot run {family} models yet.")
    if compile and strategy.stream_blocks:  # streamed blocks run through functional_call
        raise UserFacingError("Compiling and streaming the blocks cannot be combined.")
    if family in PLACED_BY_STRATEGY:
        model = loader(files, device, dtype, patch_nums, progress, strategy=strategy)
    else:
        model = loader(files, device, dtype, patch_nums, progress)
    if compile:
        blocks = FAMILY_BLOCKS.get(family)
        if blocks is None:
            raise UserFacingError(f"Compiling is not available for {family} models.")
        compile_blocks(blocks(model))
    return model
