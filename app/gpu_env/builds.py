"""Which CUDA build of torch a driver and its GPUs can run (newest that fits wins).

PyTorch's CUDA wheels carry their own CUDA runtime, so the driver only has to be new enough for
that CUDA major version (minor-version compatibility: 525.60.13 / 528.33 for 12.x, 580.65.06 /
580.88 for 13.x) and the GPU's architecture has to be compiled in: CUDA 13 builds start at Turing
(7.5), the cu128 builds at Volta (7.0), while cu126 still covers Maxwell and Pascal (5.0) -- the
reason Krita AI Diffusion and chaiNNer fall back to cu126 on a GTX 10xx.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from app.gpu_env import GpuEnvError
from app.gpu_env.driver import Driver, version_tuple

TORCH_VERSION = "2.13.0"  # the same torch the installers freeze, so the bundle's deps fit it


@dataclass(frozen=True)
class Build:
    tag: str  # "cu126": the download.pytorch.org index name and the lock file's prefix
    min_driver_linux: str
    min_driver_windows: str
    min_compute: tuple[int, int]

    @property
    def torch(self) -> str:
        return f"{TORCH_VERSION}+{self.tag}"

    @property
    def index_url(self) -> str:
        return f"https://download.pytorch.org/whl/{self.tag}"

    def min_driver(self, platform: str = sys.platform) -> str:
        return self.min_driver_windows if platform == "win32" else self.min_driver_linux


BUILDS = (  # newest first
    Build("cu130", "580.65.06", "580.88", (7, 5)),
    Build("cu128", "525.60.13", "528.33", (7, 0)),
    Build("cu126", "525.60.13", "528.33", (5, 0)),
)


def choose_build(driver: Driver | None, platform: str = sys.platform) -> Build:
    """The newest build this driver and every one of its GPUs can run, or why there is none."""
    if driver is None:
        raise GpuEnvError("No NVIDIA driver was found, so GPU acceleration cannot be enabled.")
    caps = [gpu.compute_capability for gpu in driver.gpus if gpu.compute_capability]
    best_cap = max(caps) if caps else None
    fits_driver = [
        b for b in BUILDS if driver.version_tuple >= version_tuple(b.min_driver(platform))
    ]
    if not fits_driver:
        oldest = BUILDS[-1].min_driver(platform)
        raise GpuEnvError(
            f"The NVIDIA driver {driver.version} is too old for GPU acceleration: "
            f"update it to {oldest} or newer and start Finescale again."
        )
    usable = [b for b in fits_driver if best_cap is None or best_cap >= b.min_compute]
    if not usable:
        name = max(driver.gpus, key=lambda g: g.compute_capability or (0, 0)).name
        cap = ".".join(map(str, best_cap))
        raise GpuEnvError(
            f"The {name} (compute capability {cap}) is older than any CUDA build of torch "
            f"{TORCH_VERSION} supports; Finescale keeps using the CPU."
        )
    return usable[0]


def platform_key(platform: str = sys.platform) -> str:
    """The lock files' platform name for this machine."""
    return "win-amd64" if platform == "win32" else "linux-x86_64"
