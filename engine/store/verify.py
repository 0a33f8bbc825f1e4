"""Re-hashing installed files against the best known reference hash."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.store.hashing import git_blob_sha1, sha256_of
from engine.store.index import load_index
from engine.store.installed import resolve_files
from engine.store.registry import ModelFile, ModelSpec

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX40 = re.compile(r"[0-9a-f]{40}")

Progress = Callable[[str, int, int], None]  # (file name, bytes done, bytes total)


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
