"""Real wheels on disk for the GPU-environment tests."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

from app.gpu_env.lock import Wheel


def make_wheel(
    folder: Path, name: str = "tiny_cuda", files: dict[str, bytes] | None = None
) -> Path:
    """A small but well-formed wheel: a package, a .data/platlib library and a script."""
    path = folder / f"{name}-1.0-py3-none-any.whl"
    files = files or {
        f"{name}/__init__.py": b"VALUE = 42\n",
        f"{name}-1.0.data/platlib/{name}_libs/libfake.so": b"\x7fELF fake",
        f"{name}-1.0.data/scripts/tool": b"#!/bin/sh\n",
        f"{name}-1.0.dist-info/METADATA": b"Name: tiny_cuda\nVersion: 1.0\n",
    }
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in files.items():
            info = zipfile.ZipInfo(member)
            info.external_attr = 0o755 << 16 if member.endswith(".so") else 0o644 << 16
            archive.writestr(info, data)
    return path


def wheel_entry(path: Path, url: str) -> Wheel:
    data = path.read_bytes()
    return Wheel(path.name, url, hashlib.sha256(data).hexdigest(), len(data))
