"""What a checkpoint file is, read without executing pickled code.

Its tensor names and shapes, which released file it is, or which custom VAR/VQVAE it holds
(checked strictly, on the meta device, before anything is registered).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from safetensors import SafetensorError, safe_open

from engine.models.var.build import check_var_state, check_vqvae_state
from engine.models.var.config import patch_nums_from_levels
from engine.models.var.schedules import RELEASED_PATCH_NUMS
from engine.runtime.cancel import UserFacingError
from engine.store.catalogue import all_models
from engine.store.checkpoint import flat_tensors, read_state_dict, torch_load
from engine.store.registry import (
    T5_ENCODER,
    T5_FILES,
    T5_REPO,
    VAR_VAE,
    ModelFile,
    specs_using,
)

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors")
_IGNORED_PREFIXES = ("pytorch_model", "flax_model", "tf_model", "optimizer", "training_args")
HEX64 = re.compile(r"[0-9a-f]{64}")  # a hub cache blob is named by its sha256


T5_NAMES = {f.filename for f in T5_FILES} | {p.filename for p in T5_ENCODER.built_from}


def in_t5_folder(path: Path, repo_id: str | None) -> bool:
    """A hub copy of flan-t5-xl, a folder named like it, or one whose config says T5."""
    if repo_id == T5_REPO or "t5" in path.parent.name.lower():
        return True
    try:
        return '"model_type": "t5"' in (path.parent / "config.json").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False


def is_checkpoint_name(path: Path, repo_id: str | None) -> bool:
    """A file worth reading: a checkpoint suffix, or a T5 file in a T5 folder."""
    name = path.name
    if name.startswith(_IGNORED_PREFIXES):
        return False
    if name.endswith(CHECKPOINT_SUFFIXES):
        return True
    return name in T5_NAMES and in_t5_folder(path, repo_id)


# depth -> (width, shared AdaLN, tokens, registry id) of the released VAR transformers
RELEASED_VAR = {
    16: (1024, False, 680, "var-d16"),
    20: (1280, False, 680, "var-d20"),
    24: (1536, False, 680, "var-d24"),
    30: (1920, False, 680, "var-d30"),
    36: (2304, True, 2240, "var-d36-512"),
}


_VAR_REQUIRED = (
    "word_embed.weight",
    "class_emb.weight",
    "pos_1LC",
    "lvl_embed.weight",
    "head.weight",
    "head_nm.ada_lin.1.weight",
    "blocks.0.attn.mat_qkv.weight",
    "blocks.0.ffn.fc1.weight",
)


_VQVAE_REQUIRED = (
    "quantize.embedding.weight",
    "encoder.conv_in.weight",
    "decoder.conv_out.weight",
)


# Infinity/VAREdit transformers by width (embed_dim): 2B = 2048, 8B = 3584.
_INFINITY_WIDTH = {
    "infinity_2b_reg.pth": 2048,
    "2B-512.pth": 2048,
    "8B-512.pth": 3584,
    "8B-1024.pth": 3584,
}


@dataclass
class Candidate:
    shown: Path  # the path the user gave us (for messages)
    source: Path  # the real file (symlinks in a hub snapshot resolved to their blob)
    name: str
    repo_id: str | None = None  # known when the file sits in a hub cache folder

    @property
    def blob_sha256(self) -> str | None:
        """Hub cache blobs of LFS files are named by their sha256: a free integrity check."""
        is_blob = self.source.parent.name == "blobs" and HEX64.fullmatch(self.source.name)
        return self.source.name if is_blob else None


@dataclass
class Found:
    """A validated file: a released one (``model_file``) or one half of a custom VAR pair."""

    cand: Candidate
    kind: str  # "released" | "custom-var" | "custom-vqvae"
    model_file: ModelFile | None = None
    info: dict = field(default_factory=dict)


def _read_tensors(path: Path) -> Mapping:
    """Key → tensor (or shape-bearing slice) without loading safetensors data into memory."""
    if path.name.endswith(".safetensors"):
        try:
            with safe_open(str(path), framework="pt") as handle:
                keys = list(handle.keys())  # noqa: SIM118 (safe_open is not iterable)
                shapes = {key: tuple(handle.get_slice(key).get_shape()) for key in keys}
                small = {"lvl_1L": handle.get_tensor("lvl_1L")} if "lvl_1L" in shapes else {}
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise UserFacingError(f"{path.name}: not a readable safetensors file ({exc}).") from exc
        return {**{k: _Shape(v) for k, v in shapes.items()}, **small}
    try:
        return read_state_dict(str(path))
    except UserFacingError as exc:
        if "expected a dictionary of tensors" not in str(exc):
            raise  # refused pickles, truncated files: never retry those
    state = flat_tensors(torch_load(str(path), path.name))
    if state is None:
        raise UserFacingError(f"{path.name}: not a model checkpoint (no tensors found).")
    return state


class _Shape:
    """Stands in for a tensor when only its shape was read."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape


def _shape(state: Mapping, key: str) -> tuple[int, ...]:
    return tuple(state[key].shape)


def _count_indexed(keys, prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    found = {int(m.group(1)) for key in keys if (m := pattern.match(key))}
    return max(found) + 1 if found else 0


def _missing(state: Mapping, required: tuple[str, ...]) -> list[str]:
    return [key for key in required if key not in state]


def _var_info(state: Mapping) -> dict:
    depth = _count_indexed(state, "blocks.")
    width, z_channels = _shape(state, "word_embed.weight")
    if _shape(state, "blocks.0.attn.mat_qkv.weight") != (3 * width, width):
        raise ValueError("attention and embedding widths disagree")
    info = {
        "depth": depth,
        "width": width,
        "z_channels": z_channels,
        "vocab": _shape(state, "head.weight")[0],
        "shared_aln": "shared_ada_lin.1.weight" in state,
        "tokens": _shape(state, "pos_1LC")[1],
        "levels": _shape(state, "lvl_embed.weight")[0],
        "patch_nums": None,
    }
    lvl = state.get("lvl_1L")
    if lvl is not None and not isinstance(lvl, _Shape):
        found = patch_nums_from_levels(lvl)
        info["patch_nums"] = list(found) if found else None
    if info["patch_nums"] is None:
        for schedule in RELEASED_PATCH_NUMS.values():
            if sum(p * p for p in schedule) == info["tokens"] and len(schedule) == info["levels"]:
                info["patch_nums"] = list(schedule)
    return info


def _vqvae_info(state: Mapping) -> dict:
    vocab, z_channels = _shape(state, "quantize.embedding.weight")
    levels = _count_indexed(state, "encoder.down.")
    return {
        "vocab": vocab,
        "z_channels": z_channels,
        "ch": _shape(state, "encoder.conv_in.weight")[0],
        "downsample": 2 ** max(levels - 1, 0),
    }


def describe_var(info: dict) -> str:
    shared = ", shared AdaLN" if info["shared_aln"] else ""
    return f"depth {info['depth']}, width {info['width']}{shared}, {info['tokens']} tokens"


def _released_var_id(info: dict) -> str | None:
    release = RELEASED_VAR.get(info["depth"])
    if release is None or (info["vocab"], info["z_channels"]) != (4096, 32):
        return None
    width, shared, tokens, model_id = release
    same = (info["width"], info["shared_aln"], info["tokens"]) == (width, shared, tokens)
    return model_id if same else None


def _released_by_name(cand: Candidate) -> ModelFile | None:
    """The released file ``cand`` is by name; a T5 shard counts as the encoder file built
    from it (T5 names only inside a T5 folder: ``model.safetensors`` is a common name)."""
    t5 = in_t5_folder(cand.shown, cand.repo_id)
    if t5 and cand.name in {p.filename for p in T5_ENCODER.built_from}:
        return T5_ENCODER
    for spec in all_models(include_custom=False):
        for model_file in spec.files:
            if not model_file.repo_id or not _same_name(model_file.filename, cand.name):
                continue
            if model_file.repo_id == T5_REPO and not t5:
                continue
            return model_file
    return None


def _same_name(published: str, found: str) -> bool:
    """Exact name, a converted copy (``var_d16.safetensors``) or a browser's ``var_d16 (1).pth``."""
    if published == found:
        return True
    both = published.endswith(CHECKPOINT_SUFFIXES) and found.endswith(CHECKPOINT_SUFFIXES)
    pattern = re.escape(Path(published).stem.lower()) + r"(?![0-9a-z])"
    return both and re.match(pattern, Path(found).stem.lower()) is not None


def stored_name(model_file: ModelFile, cand: Candidate) -> str:
    """Keep the file's real format in its name: the loader picks the reader by suffix."""
    if model_file.filename.endswith(CHECKPOINT_SUFFIXES):
        return Path(model_file.filename).stem + Path(cand.name).suffix
    return model_file.filename


def identify(cand: Candidate) -> Found:
    """Name first, then keys and shapes; anything unexpected is refused naming the file."""
    named = _released_by_name(cand)
    if named is not None and not cand.name.endswith(CHECKPOINT_SUFFIXES):
        return Found(cand, "released", named)  # T5 tokenizer/config files
    state = _read_tensors(cand.source)
    try:
        _check_strictly(cand.name, named, state)
    except (KeyError, ValueError, IndexError) as exc:
        raise UserFacingError(f"{cand.name}: tensors have unexpected shapes ({exc}).") from exc
    return _classify(cand, named, state)


def _check_strictly(name: str, named: ModelFile | None, state: Mapping) -> None:
    """The loader's own strict check, on shapes only (meta device): a file that would fail to
    load is refused now rather than registered as installed. Other families' files are
    checked by their loaders."""

    var_named = named is None or named.filename.startswith("var_d")
    if var_named and not _missing(state, _VAR_REQUIRED) and _count_indexed(state, "blocks."):
        check_var_state(state, name)
    elif (named is None or named == VAR_VAE) and not _missing(state, _VQVAE_REQUIRED):
        per_scale = _count_indexed(state, "quantize.quant_resi.")
        shared = any(k.startswith("quantize.quant_resi.qresi") for k in state)
        schedule = (
            RELEASED_PATCH_NUMS["256"] if shared or not per_scale else range(1, per_scale + 1)
        )
        check_vqvae_state(state, name, tuple(schedule))


def _classify(cand: Candidate, named: ModelFile | None, state: Mapping) -> Found:
    name = cand.name
    is_var = not _missing(state, _VAR_REQUIRED) and _count_indexed(state, "blocks.") > 0
    is_vqvae = not _missing(state, _VQVAE_REQUIRED)
    try:
        if named is not None and named.filename.startswith("var_d"):
            if not is_var:
                raise UserFacingError(
                    f"{name}: named like a VAR checkpoint but it is missing "
                    f"{', '.join(_missing(state, _VAR_REQUIRED)[:3]) or 'its blocks'}."
                )
            info = _var_info(state)
            expected = next(s.id for s in specs_using(named))
            if _released_var_id(info) != expected:
                raise UserFacingError(
                    f"{name}: named like {expected} but its tensors do not match it "
                    f"({describe_var(info)}); rename the file to import it as a custom model."
                )
            return Found(cand, "released", named, info)
        if named is not None and named.key == VAR_VAE.key:
            info = _vqvae_info(state) if is_vqvae else {}
            if (info.get("vocab"), info.get("z_channels"), info.get("ch")) != (4096, 32, 160):
                raise UserFacingError(
                    f"{name}: named like VAR's VQVAE but it is not that checkpoint "
                    "(expected a 4096 x 32 codebook and 160 channels)."
                )
            return Found(cand, "released", named, {**info, "downsample": 16})  # var.md §3
        if named is not None:
            _check_other_release(named, state)
            return Found(cand, "released", named)
        if is_var:  # not named like a release: even with release shapes it may be a fine-tune
            return Found(cand, "custom-var", None, _var_info(state))
        if is_vqvae:
            return Found(cand, "custom-vqvae", None, _vqvae_info(state))
    except (KeyError, ValueError, IndexError) as exc:
        raise UserFacingError(f"{name}: tensors have unexpected shapes ({exc}).") from exc
    raise UserFacingError(
        f"{name}: not a checkpoint Finescale knows (no VAR transformer or VQVAE tensors such as "
        "'word_embed.weight' or 'quantize.embedding.weight')."
    )


def _check_other_release(named: ModelFile, state: Mapping) -> None:
    """Shallow checks for Infinity/VAREdit/T5 files (their loaders do the strict check)."""
    keys = list(state)
    name = named.filename
    if name in _INFINITY_WIDTH:
        ok = "word_embed.weight" in state and any(k.startswith("block_chunks.") for k in keys)
        if not ok or _shape(state, "word_embed.weight")[0] != _INFINITY_WIDTH[name]:
            raise UserFacingError(f"{name}: not the expected Infinity/VAREdit transformer.")
    elif named.role == "vae":
        if not (any(k.startswith("encoder.") for k in keys) and any("decoder." in k for k in keys)):
            raise UserFacingError(f"{name}: not an Infinity VAE checkpoint (no encoder/decoder).")
    elif named.repo_id == T5_REPO and not any(
        k.startswith(("encoder.", "decoder.", "shared.")) for k in keys
    ):
        raise UserFacingError(f"{name}: not a flan-t5-xl weight shard.")
