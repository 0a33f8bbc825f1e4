"""Where results may be written, and the temporary files an atomic save goes through.

* ``check_output`` / ``plan_outputs``: every rule an output name must pass, run before any
  work starts (so a bad ``--out`` costs nothing) and again at the moment of saving. No input
  (image, mask, batch list) is ever a valid output, whatever ``overwrite`` says.
* Temporaries are named ``.<final name>.<pid>-<hex>.part`` next to the final file and created
  ``0666 & ~umask`` like any file a program saves. A save interrupted by Ctrl+C or SIGTERM
  removes its own; ``sweep_stale_temps`` removes those a killed process (``kill -9``, power
  loss) left behind, recognising them by a process id that no longer runs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import time
import uuid
from collections.abc import Iterable, Sequence

from engine.runtime.cancel import UserFacingError

SAVE_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}
FILE_MODE = 0o666  # the umask takes away what the user does not want (usually 0644)
TEMP_PATTERN = re.compile(r"^\..+\.(?:(?P<pid>\d+)-[0-9a-f]{8}|[0-9a-f]{12})\.part$")
LEGACY_TEMP_AGE_S = 600  # temporaries of older versions carry no pid: removed once this old


def file_label(path: str | os.PathLike[str]) -> str:
    """How messages name a file: its base name (the whole path when it has none)."""
    return os.path.basename(os.fspath(path)) or os.fspath(path)


def same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (links and relative paths resolved)."""
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    except OSError:
        pass
    real_a = os.path.normcase(os.path.realpath(os.path.abspath(a)))
    real_b = os.path.normcase(os.path.realpath(os.path.abspath(b)))
    return real_a == real_b


def save_format(path: str) -> str:
    """Pillow's format name for ``path``'s extension, or a clear refusal."""
    ext = os.path.splitext(path)[1].lower()
    fmt = SAVE_FORMATS.get(ext)
    if fmt is None:
        kinds = ", ".join(sorted({e for e in SAVE_FORMATS if e not in (".jpeg", ".tiff")}))
        shown = f"'{ext}'" if ext else "no extension"
        raise UserFacingError(f"{file_label(path)}: cannot save with {shown}; use one of {kinds}.")
    return fmt


def check_output(path: str, overwrite: bool = False, protected: Iterable[str] = ()) -> str:
    """Refuse an output name before anything is computed; returns its format."""
    path = os.fspath(path)
    name = file_label(path)
    fmt = save_format(path)
    for source in protected:
        if source and same_file(path, os.fspath(source)):
            raise UserFacingError(
                f"{name}: this is one of the inputs; saving here would overwrite the original."
            )
    if os.path.isdir(path):
        raise UserFacingError(f"{name}: a folder has this name; choose another name.")
    if os.path.lexists(path) and not overwrite:
        raise UserFacingError(f"{name}: the file already exists; choose another name.")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserFacingError(f"{name}: the folder {folder} does not exist.")
    if not os.access(folder, os.W_OK):
        raise UserFacingError(f"{name}: Finescale is not allowed to write in {folder}.")
    return fmt


def plan_outputs(
    paths: Sequence[str], overwrite: bool = False, protected: Iterable[str] = ()
) -> list[str]:
    """Check every output of a job up front and sweep its folders' stale temporaries."""
    protected = [os.fspath(p) for p in protected if p]
    for path in paths:
        check_output(path, overwrite, protected)
    for folder in {os.path.dirname(os.path.abspath(p)) for p in paths}:
        sweep_stale_temps(folder)
    return list(paths)


def temp_path(path: str) -> str:
    folder = os.path.dirname(os.path.abspath(path))
    return os.path.join(folder, f".{file_label(path)}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part")


def create_new(path: str) -> int:
    """A new file's descriptor, created ``0666 & ~umask`` (never executable)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    return os.open(path, flags, FILE_MODE)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but belongs to someone else
        return True
    return True


def sweep_stale_temps(folder: str, min_age_s: float = 0.0) -> list[str]:
    """Remove this program's temporaries whose process is gone; returns what was removed.

    ``min_age_s`` also spares fresh ones: a folder shared by several machines (batch shards)
    holds temporaries of processes this machine cannot see.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = TEMP_PATTERN.match(entry.name)
        if match is None:
            continue
        with contextlib.suppress(OSError):
            if not entry.is_file(follow_symlinks=False):
                continue
            pid = match["pid"]
            if pid is not None and (int(pid) == os.getpid() or _running(int(pid))):
                continue
            age = now - entry.stat().st_mtime
            if age < min_age_s or (pid is None and age < LEGACY_TEMP_AGE_S):
                continue
            os.remove(entry.path)
            removed.append(entry.path)
    return removed


class DiskFullError(UserFacingError):
    """Saving failed for lack of space: a batch stops here instead of failing file after file."""


def is_disk_full(exc: BaseException) -> bool:
    full = (errno.ENOSPC, getattr(errno, "EDQUOT", -1), errno.EFBIG)
    return isinstance(exc, OSError) and exc.errno in full


def write_error(name: str, exc: OSError) -> UserFacingError:
    """What went wrong writing ``name``, in words (the caller says what else was saved)."""
    code = exc.errno
    if is_disk_full(exc):
        return DiskFullError(f"{name}: the disk is full, so this file was not saved.")
    if code in (errno.EACCES, errno.EPERM) or isinstance(exc, PermissionError):
        return UserFacingError(f"{name}: Finescale is not allowed to write there; not saved.")
    if code == errno.EROFS:
        return UserFacingError(f"{name}: the disk is read-only, so this file was not saved.")
    detail = " ".join(str(exc).split()).rstrip(".") or type(exc).__name__
    return UserFacingError(f"{name}: could not be saved ({detail[:120]}).")


def remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)
