"""Where model files live on this machine and whether a model is usable, without any network.

Two places hold checkpoints: the Hugging Face hub cache (shared with other tools; ``HF_HOME`` /
``HF_HUB_CACHE`` honoured) and Finescale's own data folder (``FINESCALE_DATA_DIR`` or the platform
data dir) where imported files are hard-linked or copied to ``models/<id>/``. A small JSON index
there records every file we downloaded or imported with its sha256, so ``verify`` works offline.
Environment variables are read at call time: tests and the GUI settings change them after import.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.runtime.cancel import UserFacingError
from engine.store.registry import ModelFile, ModelSpec, get_model, specs_using
from engine.store.resources import resources_dir

INDEX_VERSION = 1
_INDEX_LOCK = threading.RLock()
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX40 = re.compile(r"[0-9a-f]{40}")

Progress = Callable[[str, int, int], None]  # (file name, bytes done, bytes total)


# --------------------------------------------------------------------------------------------
# Locations


def _env_path(name: str) -> str | None:
    value = os.environ.get(name)
    return os.path.expanduser(os.path.expandvars(value)) if value else None


def data_dir() -> Path:
    """Finescale's per-user data folder (models, index); ``FINESCALE_DATA_DIR`` overrides it."""
    override = _env_path("FINESCALE_DATA_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
        return Path(base) / "Finescale"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Finescale"
    return Path(_env_path("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "finescale"


def models_dir() -> Path:
    return data_dir() / "models"


def index_path() -> Path:
    return models_dir() / "index.json"


def hub_cache_dir() -> Path:
    """The hub cache as huggingface_hub would pick it if it were imported right now."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        value = _env_path(name)
        if value:
            return Path(value)
    home = _env_path("HF_HOME")
    if not home:
        xdg = _env_path("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        home = os.path.join(xdg, "huggingface")
    return Path(home) / "hub"


def hub_offline() -> bool:
    """``HF_HUB_OFFLINE`` (or the legacy ``TRANSFORMERS_OFFLINE``) as set now or at hub import."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
            return True
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def demo_dir() -> Path:
    """The demo model shipped with the app (``FINESCALE_DEMO_DIR`` overrides, for tests/builds)."""
    override = _env_path("FINESCALE_DEMO_DIR")
    return Path(override) if override else resources_dir() / "models" / "demo"


def repo_folder(repo_id: str) -> Path:
    """``models--org--name``: the hub cache's folder for a model repository."""
    return hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))


# --------------------------------------------------------------------------------------------
# Index


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


def _custom_spec(model_id: str, entry: dict) -> ModelSpec:
    files = tuple(
        ModelFile("", record["filename"], int(record["size"]), record.get("sha256"), role)
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
# Resolution and status (local only, never network)


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
                found[role] = record["path"]
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


def resolve_model_choice(model_id: str) -> tuple[str, str, tuple[int, ...] | None]:
    """``(vae_path, var_path, patch_nums)`` of an installed VAR-style model, for the pipelines."""
    spec = get_model(model_id)
    if spec.family not in ("var", "demo"):
        raise UserFacingError(
            f"{spec.title} is not a VAR model; pick a VAR model (e.g. var-d16) for this task."
        )
    present = resolve_files(spec)
    if "vae" not in present or "var" not in present:
        if spec.family == "demo":
            raise UserFacingError(
                "The demo model is not included in this build; download a VAR model "
                "(finescale models download var-d16) or import one from disk."
            )
        raise UserFacingError(
            f"{spec.title} is not installed; download it (finescale models download {spec.id}) "
            "or use Import from disk."
        )
    return present["vae"], present["var"], spec.patch_nums


# --------------------------------------------------------------------------------------------
# Removal


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


def _remove_from_hub_cache(model_file: ModelFile) -> int:
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
        freed += _remove_from_hub_cache(model_file)
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
# Verification


@dataclass(frozen=True)
class FileCheck:
    """Outcome of re-hashing one file: ``ok`` | ``mismatch`` | ``missing`` | ``unchecked``."""

    role: str
    filename: str
    path: str | None
    status: str
    expected: str | None = None
    actual: str | None = None
    source: str = ""  # where the expected hash came from


def sha256_of(path: str, progress: Progress | None = None) -> str:
    from engine.store.checkpoint import sha256_file

    name = os.path.basename(path)
    return sha256_file(
        path, (lambda done, total: progress(name, done, total)) if progress else None
    )


def git_blob_sha1(path: str) -> str:
    """Git's object id of a file: what the hub reports as the ETag of small (non-LFS) files."""
    digest = hashlib.sha1(f"blob {os.path.getsize(path)}\0".encode())
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _expected_hash(model_file: ModelFile, path: str, record: dict | None) -> tuple[str | None, str]:
    """Recorded hash first (works offline), then the registry, then the cache blob's name."""
    if record and record.get("sha256"):
        return record["sha256"], "index"
    if model_file.sha256:
        return model_file.sha256, "registry"
    blob_name = Path(os.path.realpath(path)).name
    if Path(os.path.realpath(path)).parent.name == "blobs" and _HEX64.fullmatch(blob_name):
        return blob_name, "hub cache"
    if Path(os.path.realpath(path)).parent.name == "blobs" and _HEX40.fullmatch(blob_name):
        return "git-sha1:" + blob_name, "hub cache"
    return None, ""


def verify(
    spec: ModelSpec,
    progress: Progress | None = None,
    remote: Callable[[ModelFile], str | None] | None = None,
) -> list[FileCheck]:
    """Re-hash every present file against the best known reference hash.

    ``remote`` (``engine.store.download``) asks the hub for a hash when nothing local knows one;
    leave it ``None`` offline.
    """
    present = resolve_files(spec)
    index = load_index()
    custom_files = index["custom"].get(spec.id, {}).get("files", {}) if spec.custom else {}
    checks = []
    for model_file in spec.files:
        path = present.get(model_file.role)
        if path is None:
            checks.append(FileCheck(model_file.role, model_file.filename, None, "missing"))
            continue
        record = custom_files.get(model_file.role) if spec.custom else None
        record = record or index["files"].get(model_file.key)
        expected, source = _expected_hash(model_file, path, record)
        if expected is None and remote is not None:
            expected, source = remote(model_file), "hub"
        if expected is None:
            checks.append(FileCheck(model_file.role, model_file.filename, path, "unchecked"))
            continue
        if expected.startswith("git-sha1:"):
            actual = "git-sha1:" + git_blob_sha1(path)
        else:
            actual = sha256_of(path, progress)
        state = "ok" if actual == expected.lower() else "mismatch"
        checks.append(
            FileCheck(model_file.role, model_file.filename, path, state, expected, actual, source)
        )
    return checks
