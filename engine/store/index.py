"""The JSON index in the data folder: every file we downloaded or imported, with its sha256
(so ``verify`` works offline), and the models the user imported (custom VAR pairs)."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable

from engine.store.locations import index_path
from engine.store.registry import ModelFile, ModelSpec

INDEX_VERSION = 1
_INDEX_LOCK = threading.RLock()


def load_index() -> dict:
    """The index, or an empty one; a damaged index is set aside rather than crashing the app."""
    path = index_path()
    with _INDEX_LOCK:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                path.replace(path.with_suffix(f".damaged-{int(time.time())}.json"))
            data = {}
    if not isinstance(data, dict):
        data = {}
    data.setdefault("version", INDEX_VERSION)
    data.setdefault("files", {})
    data.setdefault("custom", {})
    return data


def _save_index(data: dict) -> None:
    path = index_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def update_index(change: Callable[[dict], None]) -> None:
    """Read-modify-write under a lock, written atomically (a crash never leaves half a file)."""
    with _INDEX_LOCK:
        data = load_index()
        change(data)
        _save_index(data)


def record_files(records: dict[str, dict]) -> None:
    """Remember downloaded/imported files as ``{ModelFile.key: {path, sha256, size, ...}}``."""

    def change(data: dict) -> None:
        for key, record in records.items():
            data["files"][key] = {**record, "recorded": time.strftime("%Y-%m-%dT%H:%M:%S")}

    update_index(change)


def forget_files(keys: list[str]) -> None:
    """Drop the records of files that are no longer on disk (the T5 shards once built)."""

    def change(data: dict) -> None:
        for key in keys:
            data["files"].pop(key, None)

    update_index(change)


# --------------------------------------------------------------------------------------------
# Custom (imported, non-released) VAR pairs


def custom_models() -> list[ModelSpec]:
    """Models the user imported that match no released checkpoint, e.g. ``custom-mymodel``."""
    specs = []
    for model_id, entry in sorted(load_index()["custom"].items()):
        try:
            specs.append(_custom_spec(model_id, entry))
        except (KeyError, TypeError, ValueError):
            continue  # a hand-edited or older entry: ignore rather than break the model list
    return specs


LEGACY_ROLES = {"var": "transformer"}  # index entries written before roles were generic


def role_name(name: str) -> str:
    return LEGACY_ROLES.get(name, name)


def _custom_spec(model_id: str, entry: dict) -> ModelSpec:
    files = tuple(
        ModelFile(
            "", record["filename"], int(record["size"]), record.get("sha256"), role_name(role)
        )
        for role, record in sorted(entry["files"].items())
    )
    patch_nums = entry.get("patch_nums")
    return ModelSpec(
        id=model_id,
        family=entry.get("family", "var"),
        title=entry.get("title", model_id),
        files=files,
        license=entry.get("license", "unknown (imported)"),
        resolution=int(entry.get("resolution", 0)),
        tasks=tuple(entry.get("tasks", ("generate", "inpaint", "outpaint", "edit", "upscale"))),
        patch_nums=tuple(patch_nums) if patch_nums else None,
        memory_gb=dict(entry.get("memory_gb", {})),
        notes=entry.get("notes", "Imported by the user."),
        published=False,
        custom=True,
    )


# --------------------------------------------------------------------------------------------
