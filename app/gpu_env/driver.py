"""Is there an NVIDIA driver, which version, and what can its GPUs run?

``nvidia-smi`` ships with the driver on Linux and Windows, so asking it needs no CUDA install.
Linux machines without it still expose the driver version in ``/proc/driver/nvidia/version``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

QUERY = "name,driver_version,compute_cap,memory.total"
PROC_VERSION = Path("/proc/driver/nvidia/version")


@dataclass(frozen=True)
class Gpu:
    name: str
    compute_capability: tuple[int, int] | None  # None: the driver is too old to report it
    memory_mib: int | None


@dataclass(frozen=True)
class Driver:
    version: str
    gpus: tuple[Gpu, ...]

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return version_tuple(self.version)


Probe = Callable[[], "Driver | None"]


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text))


def parse_nvidia_smi(text: str) -> Driver | None:
    """Parse ``nvidia-smi --query-gpu=QUERY --format=csv,noheader,nounits`` (3 or 4 columns)."""
    gpus, version = [], None
    for line in text.strip().splitlines():
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) < 2 or not re.match(r"^\d+(\.\d+)+$", cells[1]):
            continue
        version = cells[1]
        cap = None
        if len(cells) >= 4 and re.match(r"^\d+\.\d+$", cells[2]):
            major, minor = cells[2].split(".")
            cap = (int(major), int(minor))
        memory = cells[-1] if len(cells) >= 3 else ""
        gpus.append(
            Gpu(cells[0], cap, int(float(memory)) if re.match(r"^[\d.]+$", memory) else None)
        )
    return Driver(version, tuple(gpus)) if version else None


def parse_proc_version(text: str) -> Driver | None:
    """``NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 ...``."""
    match = re.search(r"Kernel Module\s+(?:for \S+\s+)?(\d+\.\d+(?:\.\d+)?)", text)
    return Driver(match[1], ()) if match else None


def nvidia_smi_path() -> str | None:
    found = shutil.which("nvidia-smi")
    if found or sys.platform != "win32":
        return found
    candidate = Path(os.environ.get("SYSTEMROOT", r"C:\Windows")) / "System32" / "nvidia-smi.exe"
    return str(candidate) if candidate.is_file() else None


def probe_nvidia() -> Driver | None:
    """The installed NVIDIA driver and its GPUs, or None when there is no usable driver."""
    smi = nvidia_smi_path()
    if smi:
        for query in (QUERY, QUERY.replace("compute_cap,", "")):  # drivers < 510 lack compute_cap
            try:
                done = subprocess.run(
                    [smi, f"--query-gpu={query}", "--format=csv,noheader,nounits"],
                    capture_output=True,
                    text=True,
                    timeout=20,
                )
            except (OSError, subprocess.TimeoutExpired):
                break
            driver = parse_nvidia_smi(done.stdout) if done.returncode == 0 else None
            if driver:
                return driver
    if PROC_VERSION.is_file():
        return parse_proc_version(PROC_VERSION.read_text(errors="replace"))
    return None
