"""Chunked file hashes: sha256 for the index and verification, git's blob sha1 for the hub.

Read in chunks so multi-GB checkpoints never sit in memory; progress and cancellation are
checked per chunk (hashing 9 GB takes a while).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

CHUNK = 8 << 20


def sha256_file(
    path: str | os.PathLike[str],
    progress: Callable[[int, int], None] | None = None,
    check_cancelled: Callable[[], None] | None = None,
) -> str:
    """Hex sha256 of a file; ``progress(done, total)`` after each chunk."""
    digest = hashlib.sha256()
    total = os.path.getsize(path)
    done = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            if check_cancelled is not None:
                check_cancelled()
            digest.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    return digest.hexdigest()


def git_blob_sha1(path: str | os.PathLike[str]) -> str:
    """Git's object id of a file: what the hub reports as the ETag of small (non-LFS) files."""
    digest = hashlib.sha1(f"blob {os.path.getsize(path)}\0".encode())
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of(path: str, progress: Callable[[str, int, int], None] | None = None) -> str:
    """:func:`sha256_file` reporting ``(file name, done, total)``, as the model manager does."""
    name = os.path.basename(path)
    return sha256_file(
        path, (lambda done, total: progress(name, done, total)) if progress else None
    )
