"""Install a wheel by unpacking it, as pip would for torch and the nvidia-* runtime wheels.

The frozen app has no pip and no interpreter to run one, and these wheels need nothing but
unpacking: their files go under ``site-packages`` (``*.data/purelib|platlib`` moved up), with the
Unix permission bits the wheel records (triton's ``ptxas`` must stay executable). Scripts and
headers are not needed by an app that imports torch, so they are skipped.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path, PurePosixPath

from app.gpu_env import GpuEnvError


def unpacked_size(wheel: Path) -> int:
    with zipfile.ZipFile(wheel) as archive:
        return sum(info.file_size for info in archive.infolist())


def _target(name: str) -> PurePosixPath | None:
    """Where a member goes inside site-packages, or None when it is not needed."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise GpuEnvError(f"The wheel member {name!r} points outside its folder.")
    if path.parts and path.parts[0].endswith(".data"):
        if len(path.parts) > 2 and path.parts[1] in ("purelib", "platlib"):
            return PurePosixPath(*path.parts[2:])
        return None
    return path


def install_wheel(wheel: Path, site: Path) -> int:
    """Unpack ``wheel`` into ``site``; returns the number of files written."""
    written = 0
    try:
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                target = _target(info.filename)
                if target is None or info.is_dir():
                    continue
                dest = site.joinpath(*target.parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, open(dest, "wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
                mode = (info.external_attr >> 16) & 0o777
                if mode:
                    dest.chmod(mode | 0o600)
                written += 1
    except zipfile.BadZipFile as exc:
        raise GpuEnvError(f"{wheel.name} is not a valid wheel ({exc}).") from exc
    except OSError as exc:
        if exc.errno == 28:
            raise GpuEnvError(f"The disk filled up while installing {wheel.name}.") from exc
        raise GpuEnvError(f"Installing {wheel.name} failed ({exc}).") from exc
    return written
