"""Import from disk: register checkpoints copied from another machine, a USB stick or a hub cache.

Air-gapped users are the ones who cannot use the downloader, so the importer accepts whatever they
can carry: a single ``.pth``/``.safetensors``, a folder of loose files, or a copy of a hub cache
(``models--FoundationVision--var/snapshots/<commit>/...``). Files are identified by name, then
checked by their tensor names and shapes (a wrong or truncated file is refused before anything is
registered), then hard-linked (or copied) into Finescale's models folder; the user's files are
never moved. A VAR pair that matches no released model is registered as ``custom-<name>``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.runtime.cancel import CancelToken, UserFacingError
from engine.store.catalogue import all_models, get_model
from engine.store.convert import convert_checkpoint
from engine.store.hashing import sha256_of
from engine.store.index import load_index, record_files, update_index
from engine.store.installed import resolve_files
from engine.store.locations import models_dir
from engine.store.registry import T5_FILES, T5_REPO, VAR_REPO, VAR_VAE, ModelFile, specs_using

Progress = Callable[[str, int, int], None]  # (file name, bytes done, bytes total)

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors")
# Other frameworks' copies of the same weights that hub repos carry; never needed.
_IGNORED_PREFIXES = ("pytorch_model", "flax_model", "tf_model", "optimizer", "training_args")
_HUB_SKIP_DIRS = {"blobs", ".locks", ".no_exist", "refs", ".git", "__pycache__"}
_HEX64 = re.compile(r"[0-9a-f]{64}")

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
class _Candidate:
    shown: Path  # the path the user gave us (for messages)
    source: Path  # the real file (symlinks in a hub snapshot resolved to their blob)
    name: str
    repo_id: str | None = None  # known when the file sits in a hub cache folder

    @property
    def blob_sha256(self) -> str | None:
        """Hub cache blobs of LFS files are named by their sha256: a free integrity check."""
        is_blob = self.source.parent.name == "blobs" and _HEX64.fullmatch(self.source.name)
        return self.source.name if is_blob else None


@dataclass
class _Found:
    """A validated file: a released one (``model_file``) or one half of a custom VAR pair."""

    cand: _Candidate
    kind: str  # "released" | "custom-var" | "custom-vqvae"
    model_file: ModelFile | None = None
    info: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Collecting files


def _hub_repo_of(path: Path) -> str | None:
    for part in path.parts:
        if part.startswith("models--"):
            return part[len("models--") :].replace("--", "/", 1)
    return None


def _wanted(path: Path, repo_id: str | None) -> bool:
    name = path.name
    if name.startswith(_IGNORED_PREFIXES):
        return False
    if name.endswith(CHECKPOINT_SUFFIXES):
        return True
    t5_context = repo_id == T5_REPO or "t5" in path.parent.name.lower()
    return t5_context and name in {f.filename for f in T5_FILES}


def _main_commit(path: Path) -> str | None:
    """The commit ``refs/main`` names in a copied hub cache folder, to prefer its snapshot."""
    for parent in path.parents:
        if parent.name.startswith("models--"):
            ref = parent / "refs" / "main"
            return ref.read_text().strip() if ref.is_file() else None
    return None


def _collect(root: Path) -> list[_Candidate]:
    if root.is_file():
        return [_Candidate(root, root.resolve(), root.name, _hub_repo_of(root))]
    if not root.is_dir():
        raise UserFacingError(f"{root}: no such file or folder.")
    chosen: dict[tuple[str, str], tuple[int, _Candidate]] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _HUB_SKIP_DIRS)
        for name in sorted(files):
            path = Path(folder) / name
            repo_id = _hub_repo_of(path)
            if not _wanted(path, repo_id) or not path.is_file():
                continue
            cand = _Candidate(path, path.resolve(), name, repo_id)
            # Several snapshots may hold the same file name: prefer refs/main, then the newest.
            rank = 1 if _main_commit(path) in path.parts else 0
            key = (repo_id, name) if repo_id else ("", str(path))  # loose files: keep all
            previous = chosen.get(key)
            if previous is None or (rank, path.stat().st_mtime) > (
                previous[0],
                previous[1].shown.stat().st_mtime,
            ):
                chosen[key] = (rank, cand)
    return [cand for _, cand in chosen.values()]


# --------------------------------------------------------------------------------------------
# Reading tensor names and shapes (never executing pickled code)


def _flatten(loaded: object) -> Mapping | None:
    """A bare state dict, or one nested a level down (Infinity's VAE is ``{"vae": {...}}``)."""
    import torch

    if not isinstance(loaded, Mapping):
        return None
    if loaded and all(isinstance(v, torch.Tensor) for v in loaded.values()):
        return loaded
    for value in loaded.values():
        if (
            isinstance(value, Mapping)
            and value
            and all(isinstance(v, torch.Tensor) for v in value.values())
        ):
            return value
    return None


def _read_tensors(path: Path) -> Mapping:
    """Key → tensor (or shape-bearing slice) without loading safetensors data into memory."""
    if path.name.endswith(".safetensors"):
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt") as handle:
                keys = list(handle.keys())  # noqa: SIM118 (safe_open is not iterable)
                shapes = {key: tuple(handle.get_slice(key).get_shape()) for key in keys}
                small = {"lvl_1L": handle.get_tensor("lvl_1L")} if "lvl_1L" in shapes else {}
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise UserFacingError(f"{path.name}: not a readable safetensors file ({exc}).") from exc
        return {**{k: _Shape(v) for k, v in shapes.items()}, **small}
    from engine.store.checkpoint import read_state_dict

    try:
        return read_state_dict(str(path))
    except UserFacingError as exc:
        if "expected a dictionary of tensors" not in str(exc):
            raise  # refused pickles, truncated files: never retry those
    import pickle
    import zipfile

    import torch

    try:
        loaded = torch.load(
            str(path), map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path)
        )
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        raise UserFacingError(f"{path.name}: the checkpoint could not be read ({exc}).") from exc
    state = _flatten(loaded)
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
        from engine.models.var.config import patch_nums_from_levels

        found = patch_nums_from_levels(lvl)
        info["patch_nums"] = list(found) if found else None
    if info["patch_nums"] is None:
        from engine.models.var.schedules import RELEASED_PATCH_NUMS

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


def _describe_var(info: dict) -> str:
    shared = ", shared AdaLN" if info["shared_aln"] else ""
    return f"depth {info['depth']}, width {info['width']}{shared}, {info['tokens']} tokens"


def _released_var_id(info: dict) -> str | None:
    release = RELEASED_VAR.get(info["depth"])
    if release is None or (info["vocab"], info["z_channels"]) != (4096, 32):
        return None
    width, shared, tokens, model_id = release
    same = (info["width"], info["shared_aln"], info["tokens"]) == (width, shared, tokens)
    return model_id if same else None


def _released_by_name(cand: _Candidate) -> ModelFile | None:
    for spec in all_models(include_custom=False):
        for model_file in spec.files:
            if not model_file.repo_id or not _same_name(model_file.filename, cand.name):
                continue
            if model_file.repo_id == T5_REPO and not _wanted(cand.shown, cand.repo_id):
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


def _stored_name(model_file: ModelFile, cand: _Candidate) -> str:
    """Keep the file's real format in its name: the loader picks the reader by suffix."""
    if model_file.filename.endswith(CHECKPOINT_SUFFIXES):
        return Path(model_file.filename).stem + Path(cand.name).suffix
    return model_file.filename


def _identify(cand: _Candidate) -> _Found:
    """Name first, then keys and shapes; anything unexpected is refused naming the file."""
    named = _released_by_name(cand)
    if named is not None and not cand.name.endswith(CHECKPOINT_SUFFIXES):
        return _Found(cand, "released", named)  # T5 tokenizer/config files
    state = _read_tensors(cand.source)
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
                    f"({_describe_var(info)}); rename the file to import it as a custom model."
                )
            return _Found(cand, "released", named, info)
        if named is not None and named.key == VAR_VAE.key:
            info = _vqvae_info(state) if is_vqvae else {}
            if (info.get("vocab"), info.get("z_channels"), info.get("ch")) != (4096, 32, 160):
                raise UserFacingError(
                    f"{name}: named like VAR's VQVAE but it is not that checkpoint "
                    "(expected a 4096 x 32 codebook and 160 channels)."
                )
            return _Found(cand, "released", named, {**info, "downsample": 16})  # var.md §3
        if named is not None:
            _check_other_release(named, state)
            return _Found(cand, "released", named)
        if is_var:  # not named like a release: even with release shapes it may be a fine-tune
            return _Found(cand, "custom-var", None, _var_info(state))
        if is_vqvae:
            return _Found(cand, "custom-vqvae", None, _vqvae_info(state))
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


# --------------------------------------------------------------------------------------------
# Pairing custom models


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "model"


def _installed_var_vae() -> str | None:
    for model_id in ("var-d16", "var-d20", "var-d24", "var-d30", "var-d36-512"):
        path = resolve_files(get_model(model_id)).get("vae")
        if path:
            return path
    return None


def _pair_customs(found: list[_Found], name: str | None) -> list[tuple[str, _Found, object]]:
    """Each custom VAR gets the one VQVAE whose codebook fits; returns (id, var, vae)."""
    custom_vars = [f for f in found if f.kind == "custom-var"]
    custom_vaes = [f for f in found if f.kind == "custom-vqvae"]
    release_vae = next((f for f in found if f.model_file == VAR_VAE), None)
    pairs = []
    for var in custom_vars:
        fits = [
            vae
            for vae in custom_vaes
            if (vae.info["vocab"], vae.info["z_channels"])
            == (var.info["vocab"], var.info["z_channels"])
        ]
        if len(fits) > 1:
            stems = [v for v in fits if v.cand.shown.parent == var.cand.shown.parent]
            fits = stems if len(stems) == 1 else fits
        if len(fits) > 1:
            raise UserFacingError(
                f"{var.cand.name}: several VQVAE files fit it; import the pair from its own folder."
            )
        vae: object | None = fits[0] if fits else None
        if vae is None and (var.info["vocab"], var.info["z_channels"]) == (4096, 32):
            vae = release_vae or _installed_var_vae()
        if vae is None:
            raise UserFacingError(
                f"{var.cand.name}: a VAR transformer that matches no released model "
                f"({_describe_var(var.info)}), and no VQVAE with a {var.info['vocab']} x "
                f"{var.info['z_channels']} codebook was found; import both files together."
            )
        stem = name if name and len(custom_vars) == 1 else Path(var.cand.name).stem
        if name and len(custom_vars) > 1:
            stem = f"{name}-{stem}"
        pairs.append((f"custom-{_slug(stem)}", var, vae))
    ids = [model_id for model_id, _, _ in pairs]
    return [  # two "var.safetensors" in different folders: tell them apart by folder
        (
            f"custom-{_slug(v.cand.shown.parent.name)}-{i.removeprefix('custom-')}"
            if ids.count(i) > 1
            else i,
            v,
            a,
        )
        for i, v, a in pairs
    ]


# --------------------------------------------------------------------------------------------
# Placing files


def _place(source: Path, dest: Path, token: CancelToken, progress: Progress | None) -> None:
    """Hard-link (free, instant) or copy ``source`` to ``dest``; the source is left untouched."""
    source = source.resolve()  # link the data, not a (relative) hub snapshot symlink
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() and os.path.samefile(source, dest):
        return
    tmp = dest.with_name(f".{dest.name}.importing")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        size = source.stat().st_size
        free = shutil.disk_usage(dest.parent).free
        if size > free:
            raise UserFacingError(
                f"{source.name}: not enough disk space to copy it into {dest.parent} "
                f"({size / 1e9:.2f} GB needed, {free / 1e9:.2f} GB free)."
            ) from None
        _copy(source, tmp, token, progress)
    os.replace(tmp, dest)


def _copy(source: Path, dest: Path, token: CancelToken, progress: Progress | None) -> None:
    total = source.stat().st_size
    done = 0
    try:
        with open(source, "rb") as src, open(dest, "wb") as out:
            while chunk := src.read(8 << 20):
                token.raise_if_cancelled()
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(source.name, done, total)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


def _checked_sha256(cand: _Candidate, progress: Progress | None) -> str:
    digest = sha256_of(str(cand.source), progress)
    if cand.blob_sha256 and digest != cand.blob_sha256:
        raise UserFacingError(
            f"{cand.name}: the file is damaged (its sha256 differs from its hub cache name)."
        )
    return digest


def _folder_for(model_file: ModelFile) -> Path:
    users = specs_using(model_file)
    return models_dir() / (users[0].id if len(users) == 1 else "shared")


def _store(
    source: Path,
    dest: Path,
    convert: str | None,
    token: CancelToken,
    progress: Progress | None,
) -> tuple[Path, str | None]:
    """Place ``source`` at ``dest`` as is, or as a converted ``.safetensors`` copy.

    Returns the stored path and, for a conversion, the new file's sha256 (it differs from the
    source's, which was checked against the hub's before).
    """
    if convert is None or not source.name.endswith(CHECKPOINT_SUFFIXES):
        _place(source, dest, token, progress)
        return dest, None
    dest = dest.with_suffix(".safetensors")
    if progress is not None:
        progress(f"{source.name} -> {dest.name}", 0, 1)
    convert_checkpoint(source, dest, convert, token)
    return dest, sha256_of(str(dest), progress)


def import_path(
    path: str | os.PathLike,
    progress: Progress | None = None,
    token: CancelToken | None = None,
    name: str | None = None,
    convert: str | None = None,
) -> list[str]:
    """Validate and register the checkpoints under ``path``; returns the model ids they serve.

    ``name`` names an imported custom VAR pair (``custom-<name>``; default: the VAR file's stem).
    ``convert`` ("keep", "fp16" or "bf16") stores VAR checkpoints as memory-mapped
    ``.safetensors`` copies, in half precision for fp16/bf16 (half the disk and RAM).
    Models whose other files are still missing are returned too; ``installed.status`` tells.
    """
    token = token or CancelToken()
    root = Path(os.path.expanduser(os.fspath(path)))
    candidates = _collect(root)
    if not candidates:
        raise UserFacingError(
            f"{root}: no model files found (expected .pth or .safetensors checkpoints)."
        )
    found = []
    for cand in candidates:
        token.raise_if_cancelled()
        found.append(_identify(cand))
    pairs = _pair_customs(found, name)
    used_customs = {id(vae) for _, _, vae in pairs} | {id(var) for _, var, _ in pairs}
    released = [f for f in found if f.kind == "released"]
    if not released and not pairs:
        lonely = next(f for f in found if id(f) not in used_customs)
        raise UserFacingError(
            f"{lonely.cand.name}: a VQVAE that no known model uses; import it together with "
            "its VAR transformer file."
        )

    # Everything is valid: hash, place and record (the index is written once, at the end).
    records: dict[str, dict] = {}
    placed: dict[int, tuple[Path, str, int]] = {}
    touched: set[str] = set()
    for item in released:
        model_file = item.model_file
        assert model_file is not None
        sha256 = _checked_sha256(item.cand, progress)
        dest = _folder_for(model_file) / _stored_name(model_file, item.cand)
        var_file = model_file.repo_id == VAR_REPO
        dest, converted = _store(item.cand.source, dest, convert if var_file else None, token,
                                 progress)  # fmt: skip
        sha256 = converted or sha256
        size = dest.stat().st_size
        placed[id(item)] = (dest, sha256, size)
        records[model_file.key] = {
            "source": "import",
            "path": str(dest),
            "sha256": sha256,
            "size": size,
            "repo_id": model_file.repo_id,
            "filename": model_file.filename,
            "origin": str(item.cand.shown),
            **({"converted": convert} if converted else {}),
        }
        touched.update(spec.id for spec in specs_using(model_file))
    customs = {}
    for model_id, var, vae in pairs:
        files = {}
        for role, part in (("transformer", var), ("vae", vae)):
            if isinstance(part, _Found) and id(part) in placed:
                source, sha256, size = placed[id(part)]
                filename = source.name
            elif isinstance(part, _Found):
                sha256 = _checked_sha256(part.cand, progress)
                source, filename = part.cand.source, part.cand.name
            else:  # an already installed released VQVAE
                source = Path(str(part))
                sha256 = _recorded_sha256(source) or sha256_of(str(source), progress)
                filename = VAR_VAE.filename
            dest = models_dir() / model_id / filename
            fresh = isinstance(part, _Found) and id(part) not in placed
            dest, converted = _store(source, dest, convert if fresh else None, token, progress)
            sha256, size, filename = converted or sha256, dest.stat().st_size, dest.name
            files[role] = {"path": str(dest), "sha256": sha256, "size": size, "filename": filename}
        info = var.info
        vae_info = vae.info if isinstance(vae, _Found) else {"downsample": 16}
        patch_nums = info.get("patch_nums")
        customs[model_id] = {
            "family": "var",
            "title": f"Custom VAR {model_id[len('custom-') :]} ({_describe_var(info)})",
            "resolution": patch_nums[-1] * vae_info.get("downsample", 16) if patch_nums else 0,
            "patch_nums": patch_nums,
            "license": "unknown (imported)",
            "memory_gb": {"cpu-fp32": round(sum(f["size"] for f in files.values()) * 1.3e-9, 2)},
            "notes": f"Imported from {var.cand.shown}.",
            "files": files,
        }
    record_files(records)
    if customs:
        update_index(lambda data: data["custom"].update(customs))
    return sorted(touched | set(customs))


def _recorded_sha256(path: Path) -> str | None:
    for record in load_index()["files"].values():
        if record.get("path") == str(path):
            return record.get("sha256")
    blob = path.resolve()
    return blob.name if blob.parent.name == "blobs" and _HEX64.fullmatch(blob.name) else None
