"""Removing a model's files: shared files stay while another installed model needs them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from engine.runtime.cancel import UserFacingError
from engine.store.index import load_index, update_index
from engine.store.installed import hub_cached_path, resolve_files
from engine.store.locations import models_dir, repo_folder
from engine.store.registry import ModelFile, ModelSpec, specs_using


def _needed_elsewhere(spec: ModelSpec, model_file: ModelFile) -> bool:
    """A shared file (the VQVAE) stays while another installed model still uses it."""
    for other in specs_using(model_file):
        if other.id == spec.id:
            continue
        present = resolve_files(other)
        if any(f.key != model_file.key and f.role in present for f in other.files):
            return True
    return False


def _unlink(path: Path) -> int:
    try:
        info = path.lstat()
        path.unlink()
    except FileNotFoundError:
        return 0
    return info.st_size if info.st_nlink <= 1 and not path.is_symlink() else 0


def remove_from_hub_cache(model_file: ModelFile) -> int:
    """Delete the snapshot entry and, once nothing else points at it, its blob."""
    pointer = hub_cached_path(model_file)
    if pointer is None:
        return 0
    pointer_path = Path(pointer)
    if not pointer_path.is_symlink():
        return _unlink(pointer_path)
    blob = Path(os.path.realpath(pointer_path))
    pointer_path.unlink()
    storage = repo_folder(model_file.repo_id)
    for other in (storage / "snapshots").rglob("*"):
        if other.is_symlink() and Path(os.path.realpath(other)) == blob:
            return 0
    return _unlink(blob)


def remove(spec: ModelSpec) -> int:
    """Delete a model's files that no other installed model needs; returns bytes freed."""
    if spec.family == "demo":
        raise UserFacingError("The demo model ships with Finescale and cannot be removed.")
    freed = 0
    if spec.custom:
        folder = models_dir() / spec.id
        if folder.is_dir():
            for path in folder.iterdir():
                freed += _unlink(path) if path.is_file() else 0
            shutil.rmtree(folder, ignore_errors=True)
        update_index(lambda data: data["custom"].pop(spec.id, None))
        return freed
    drop: list[str] = []
    for model_file in spec.files:
        if _needed_elsewhere(spec, model_file):
            continue
        record = load_index()["files"].get(model_file.key)
        if record and record.get("source") == "import":
            path = Path(record["path"])
            if _inside(path, models_dir()):
                freed += _unlink(path)
                _remove_empty_parents(path.parent, models_dir())
        freed += remove_from_hub_cache(model_file)
        drop.append(model_file.key)

    def change(data: dict) -> None:
        for key in drop:
            data["files"].pop(key, None)

    update_index(change)
    return freed


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _remove_empty_parents(folder: Path, stop: Path) -> None:
    while _inside(folder, stop) and folder.resolve() != stop.resolve():
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


# --------------------------------------------------------------------------------------------
