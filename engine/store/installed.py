"""Whether a model is usable here and which of its files are where, without any network."""

from __future__ import annotations

import os

from engine.store.index import load_index, role_name
from engine.store.locations import demo_dir, hub_cache_dir
from engine.store.registry import ModelFile, ModelSpec


def hub_cached_path(model_file: ModelFile) -> str | None:
    """The file in the hub cache, via huggingface_hub's own lookup (no network)."""
    if not model_file.repo_id:
        return None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(
        model_file.repo_id,
        model_file.filename,
        cache_dir=str(hub_cache_dir()),
        revision=model_file.revision,
    )
    return found if isinstance(found, str) and os.path.isfile(found) else None


def resolve_files(spec: ModelSpec) -> dict[str, str]:
    """``{role: path}`` of the files present on disk; roles absent from the dict are missing."""
    found: dict[str, str] = {}
    if spec.family == "demo":
        folder = demo_dir()
        for model_file in spec.files:
            path = folder / model_file.filename
            if path.is_file():
                found[model_file.role] = str(path)
        return found
    index = load_index()
    if spec.custom:
        entry = index["custom"].get(spec.id, {})
        for role, record in entry.get("files", {}).items():
            if os.path.isfile(record.get("path", "")):
                found[role_name(role)] = record["path"]
        return found
    for model_file in spec.files:
        record = index["files"].get(model_file.key)
        if record and os.path.isfile(record.get("path", "")):
            found[model_file.role] = record["path"]
            continue
        cached = hub_cached_path(model_file)
        if cached:
            found[model_file.role] = cached
    return found


def missing_files(spec: ModelSpec) -> list[ModelFile]:
    present = resolve_files(spec)
    return [f for f in spec.files if f.role not in present]


def status(spec: ModelSpec) -> str:
    """``installed`` | ``partial`` | ``not installed`` (partial downloads do not count)."""
    present = resolve_files(spec)
    if len(present) == len(spec.files):
        return "installed"
    return "partial" if present else "not installed"


def disk_usage(spec: ModelSpec) -> int:
    """Bytes the model's present files occupy (a hard-linked file is counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for path in resolve_files(spec).values():
        info = os.stat(path)
        if (info.st_dev, info.st_ino) not in seen:
            seen.add((info.st_dev, info.st_ino))
            total += info.st_size
    return total
