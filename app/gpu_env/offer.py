"""Should this start offer GPU acceleration, and with which build? (Qt-free; the dialog asks.)

Only installed copies are offered it (a checkout has pip), once, and only when the offer can be
real: an NVIDIA driver answers, this process runs a torch without CUDA, and the bundle carries a
package list for the chosen build. ``FINESCALE_GPU_OFFER=1`` makes a checkout behave like an
installed copy (tests, trying it out).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from app.gpu_env import GpuEnvError
from app.gpu_env.builds import Build, choose_build, platform_key
from app.gpu_env.driver import Driver, Probe, probe_nvidia
from app.gpu_env.lock import Lock, lock_path, read_lock


@dataclass(frozen=True)
class Offer:
    driver: Driver | None
    build: Build | None
    lock: Lock | None
    problem: str | None  # why it cannot be enabled, in one sentence


def locks_folder() -> Path:
    from engine.store.resources import resources_dir

    return resources_dir() / "gpu"


def torch_has_cuda() -> bool:
    import torch

    return torch.version.cuda is not None


def examine(probe: Probe = probe_nvidia, folder: Path | None = None) -> Offer:
    """Look at the driver and the shipped package lists; never raises."""
    driver = probe()
    try:
        build = choose_build(driver)
    except GpuEnvError as exc:
        return Offer(driver, None, None, str(exc))
    path = lock_path(folder or locks_folder(), build.tag, platform_key())
    if not path.is_file():
        problem = f"This copy of Finescale carries no package list for {build.tag} ({path.name})."
        return Offer(driver, build, None, problem)
    try:
        return Offer(driver, build, read_lock(path), None)
    except GpuEnvError as exc:
        return Offer(driver, build, None, str(exc))


def installed_copy() -> bool:
    return bool(getattr(sys, "frozen", False)) or os.environ.get("FINESCALE_GPU_OFFER") == "1"


def offer_at_start(root: Path, offer: Offer) -> bool:
    """Ask now? Yes once per machine, for an installed CPU copy that has a usable offer."""
    if not installed_copy() or (root / "offer.json").is_file():
        return False
    return offer.lock is not None and not torch_has_cuda()


def remember_answer(root: Path, answer: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "offer.json").write_text(json.dumps({"answer": answer}), encoding="utf-8")
