"""Resumable, verified downloads: a stopped download continues where it stopped.

Bytes go to ``<name>.part``; a retry asks the server for the rest (HTTP Range) and keeps the
part when the server honours it. Only a file whose size and sha256 match the lock is renamed to
its final name, so a half-written or tampered file is never installed.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from app.gpu_env import GpuEnvError
from app.gpu_env.lock import Wheel

CHUNK = 1 << 20
TIMEOUT_S = 30
Progress = Callable[[str, int, int], None]  # (file name, bytes done, bytes total or 0)
Cancelled = Callable[[], bool]


class DownloadCancelled(GpuEnvError):
    pass


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def check_file(path: Path, wheel: Wheel) -> None:
    """Raise unless ``path`` is exactly the wheel the lock names."""
    if wheel.size is not None and path.stat().st_size != wheel.size:
        raise GpuEnvError(
            f"{path.name} has {path.stat().st_size} bytes, the package list expects {wheel.size}."
        )
    if file_sha256(path) != wheel.sha256:
        raise GpuEnvError(f"{path.name} is damaged or not the expected file (sha256 mismatch).")


def _open(url: str, offset: int):
    request = urllib.request.Request(url, headers={"User-Agent": "Finescale"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    return urllib.request.urlopen(request, timeout=TIMEOUT_S)


def download(
    wheel: Wheel, folder: Path, progress: Progress | None = None, cancelled: Cancelled | None = None
) -> Path:
    """Fetch ``wheel`` into ``folder`` (resuming a ``.part``), verify it, return its path."""
    final = folder / wheel.filename
    if final.is_file():
        return final  # verified before it got this name
    folder.mkdir(parents=True, exist_ok=True)
    part = final.with_name(final.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    if not (wheel.size and offset == wheel.size):  # else: complete, only the check is left
        _fetch(wheel, part, offset, progress, cancelled)
    try:
        check_file(part, wheel)
    except GpuEnvError:
        part.unlink()  # a wrong file cannot be resumed into a right one
        raise
    part.replace(final)
    return final


def _fetch(
    wheel: Wheel, part: Path, offset: int, progress: Progress | None, cancelled: Cancelled | None
) -> None:
    try:
        with _open(wheel.url, offset) as response:
            resumed = offset and getattr(response, "status", 200) == 206
            done = offset if resumed else 0
            length = int(response.headers.get("Content-Length") or 0)
            total = wheel.size or (done + length if length else 0)
            with open(part, "ab" if resumed else "wb") as out:
                while block := response.read(CHUNK):
                    if cancelled and cancelled():
                        raise DownloadCancelled("Download paused; Retry continues it.")
                    out.write(block)
                    done += len(block)
                    if progress:
                        progress(wheel.filename, done, total)
        if total and done < total:  # http.client ends quietly when the server hangs up
            raise ConnectionError(f"connection closed at {done} of {total} bytes")
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        if isinstance(exc, OSError) and exc.errno == 28:
            raise GpuEnvError(f"The disk is full while downloading {wheel.filename}.") from exc
        reason = getattr(exc, "reason", exc)
        raise GpuEnvError(
            f"Downloading {wheel.filename} stopped ({reason}); Retry continues where it stopped."
        ) from exc


def from_folder(wheel: Wheel, source: Path) -> Path:
    """Offline: the wheel the user brought, verified in place (no copy of gigabytes)."""
    found = source / wheel.filename
    if not found.is_file():
        raise GpuEnvError(f"{wheel.filename} is missing from {source}.")
    check_file(found, wheel)
    return found
