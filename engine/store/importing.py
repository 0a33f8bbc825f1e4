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
from collections.abc import Callable
from pathlib import Path

from engine.runtime.cancel import CancelToken, UserFacingError
from engine.store.catalogue import get_model
from engine.store.convert import convert_checkpoint
from engine.store.hashing import sha256_of
from engine.store.index import load_index, record_files, update_index
from engine.store.inspect import (
    CHECKPOINT_SUFFIXES,
    HEX64,
    Candidate,
    Found,
    describe_var,
    identify,
    is_checkpoint_name,
    stored_name,
)
from engine.store.installed import resolve_files
from engine.store.locations import models_dir, require_space
from engine.store.registry import T5_ENCODER, VAR_REPO, VAR_VAE, ModelFile, specs_using
from engine.store.t5_encoder import config_layers, write_encoder

Progress = Callable[[str, int, int], None]  # (file name, bytes done, bytes total)

# Other frameworks' copies of the same weights that hub repos carry; never needed.
_HUB_SKIP_DIRS = {"blobs", ".locks", ".no_exist", "refs", ".git", "__pycache__"}


# --------------------------------------------------------------------------------------------
# Collecting files


def _hub_repo_of(path: Path) -> str | None:
    for part in path.parts:
        if part.startswith("models--"):
            return part[len("models--") :].replace("--", "/", 1)
    return None


def _main_commit(path: Path) -> str | None:
    """The commit ``refs/main`` names in a copied hub cache folder, to prefer its snapshot."""
    for parent in path.parents:
        if parent.name.startswith("models--"):
            ref = parent / "refs" / "main"
            return ref.read_text().strip() if ref.is_file() else None
    return None


def _collect(root: Path) -> list[Candidate]:
    if root.is_file():
        return [Candidate(root, root.resolve(), root.name, _hub_repo_of(root))]
    if not root.is_dir():
        raise UserFacingError(f"{root}: no such file or folder.")
    chosen: dict[tuple[str, str], tuple[int, Candidate]] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _HUB_SKIP_DIRS)
        for name in sorted(files):
            path = Path(folder) / name
            repo_id = _hub_repo_of(path)
            if not is_checkpoint_name(path, repo_id) or not path.is_file():
                continue
            cand = Candidate(path, path.resolve(), name, repo_id)
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


def _pair_customs(found: list[Found], name: str | None) -> list[tuple[str, Found, object]]:
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
                f"({describe_var(var.info)}), and no VQVAE with a {var.info['vocab']} x "
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
        require_space(dest.parent, source.stat().st_size, f"{source.name}: copying it")
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


def _checked_sha256(cand: Candidate, progress: Progress | None) -> str:
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
    Everything is checked before anything is copied or recorded (the index is written once).
    """
    token = token or CancelToken()
    released, pairs = _identify_all(Path(os.path.expanduser(os.fspath(path))), name, token)
    records, placed, touched = _place_released(released, convert, token, progress)
    customs = {
        model_id: _place_custom(model_id, var, vae, placed, convert, token, progress)
        for model_id, var, vae in pairs
    }
    record_files(records)
    if customs:
        update_index(lambda data: data["custom"].update(customs))
    return sorted(touched | set(customs))


def _identify_all(root: Path, name: str | None, token: CancelToken):
    """The released files and the custom (VAR, VQVAE) pairs under ``root``, all checked."""
    candidates = _collect(root)
    if not candidates:
        raise UserFacingError(
            f"{root}: no model files found (expected .pth or .safetensors checkpoints)."
        )
    found = []
    for cand in candidates:
        token.raise_if_cancelled()
        found.append(identify(cand))
    pairs = _pair_customs(found, name)
    used_customs = {id(vae) for _, _, vae in pairs} | {id(var) for _, var, _ in pairs}
    released = [f for f in found if f.kind == "released"]
    if not released and not pairs:
        lonely = next(f for f in found if id(f) not in used_customs)
        raise UserFacingError(
            f"{lonely.cand.name}: a VQVAE that no known model uses; import it together with "
            "its VAR transformer file."
        )
    return released, pairs


def _place_released(released: list[Found], convert: str | None, token, progress):
    """Hash, place and describe each released file; (index records, placed, model ids)."""
    records: dict[str, dict] = {}
    placed: dict[int, tuple[Path, str, int]] = {}
    touched: set[str] = set()
    encoder_parts = [item for item in released if item.model_file == T5_ENCODER]
    if encoder_parts:
        records[T5_ENCODER.key] = _import_encoder(encoder_parts, token, progress)
        touched.update(spec.id for spec in specs_using(T5_ENCODER))
    for item in released:
        model_file = item.model_file
        assert model_file is not None
        if model_file == T5_ENCODER:
            continue
        sha256 = _checked_sha256(item.cand, progress)
        dest = _folder_for(model_file) / stored_name(model_file, item.cand)
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
    return records, placed, touched


def _import_encoder(parts: list[Found], token: CancelToken, progress: Progress | None) -> dict:
    """flan-t5-xl's shards (or one full/encoder ``model.safetensors``) -> the encoder-only
    file Finescale keeps; the user's files stay as they are."""
    shards = [p for p in parts if p.cand.name in {s.filename for s in T5_ENCODER.built_from}]
    parts = shards or parts
    for part in parts:
        if part.cand.blob_sha256:  # a hub cache copy: its blob name is a free integrity check
            _checked_sha256(part.cand, progress)
    dest = _folder_for(T5_ENCODER) / T5_ENCODER.filename
    if progress is not None:
        progress(f"T5 encoder -> {dest.name}", 0, 1)
    layers = config_layers(parts[0].cand.shown.parent)
    sources = sorted(p.cand.source for p in parts)
    sha256, size = write_encoder(sources, dest, token, layers)
    return {
        "source": "import",
        "path": str(dest),
        "sha256": sha256,
        "size": size,
        "repo_id": T5_ENCODER.repo_id,
        "filename": T5_ENCODER.filename,
        "origin": str(parts[0].cand.shown.parent),
    }


def _place_custom(model_id: str, var, vae, placed, convert, token, progress) -> dict:
    """Place a custom VAR pair under ``models/<id>/`` and describe it for the index."""
    files = {}
    for role, part in (("transformer", var), ("vae", vae)):
        if isinstance(part, Found) and id(part) in placed:
            source, sha256, size = placed[id(part)]
            filename = source.name
        elif isinstance(part, Found):
            sha256 = _checked_sha256(part.cand, progress)
            source, filename = part.cand.source, part.cand.name
        else:  # an already installed released VQVAE
            source = Path(str(part))
            sha256 = _recorded_sha256(source) or sha256_of(str(source), progress)
            filename = VAR_VAE.filename
        dest = models_dir() / model_id / filename
        fresh = isinstance(part, Found) and id(part) not in placed
        dest, converted = _store(source, dest, convert if fresh else None, token, progress)
        sha256, size, filename = converted or sha256, dest.stat().st_size, dest.name
        files[role] = {"path": str(dest), "sha256": sha256, "size": size, "filename": filename}
    info = var.info
    vae_info = vae.info if isinstance(vae, Found) else {"downsample": 16}
    patch_nums = info.get("patch_nums")
    return {
        "family": "var",
        "title": f"Custom VAR {model_id[len('custom-') :]} ({describe_var(info)})",
        "resolution": patch_nums[-1] * vae_info.get("downsample", 16) if patch_nums else 0,
        "patch_nums": patch_nums,
        "license": "unknown (imported)",
        "memory_gb": {"cpu-fp32": round(sum(f["size"] for f in files.values()) * 1.3e-9, 2)},
        "notes": f"Imported from {var.cand.shown}.",
        "files": files,
    }


def _recorded_sha256(path: Path) -> str | None:
    for record in load_index()["files"].values():
        if record.get("path") == str(path):
            return record.get("sha256")
    blob = path.resolve()
    return blob.name if blob.parent.name == "blobs" and HEX64.fullmatch(blob.name) else None
