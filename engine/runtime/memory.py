"""Give freed heap memory back to the operating system between jobs.

glibc keeps the arenas a job's activations used (hundreds of MB for a 256 px decode), and they
fragment: measured on VAR-d16, peak RSS grew 2139 -> 2251 MiB over three identical jobs without
trimming and stayed at 2128 MiB with it. Elsewhere (macOS, Windows, musl) this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys


@functools.cache
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def trim_heap() -> bool:
    """Return free heap pages to the OS (and cached CUDA blocks to the driver, so a job on
    another model or another program gets them); True when the platform supports it."""
    torch = sys.modules.get("torch")  # never imported here: only if a job already did
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
