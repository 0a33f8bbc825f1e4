"""The whole "Enable GPU acceleration" path, with CPU torch standing in for the CUDA build.

Same mechanism as on a user's machine: a driver probe (faked: this machine has no GPU) picks
the build, the lock names the wheel, it is downloaded over real HTTP (interrupted once, then
resumed) or taken from a folder, unpacked, verified by running the app's --gpu-probe and
--self-test in it, activated, and a fresh start imports torch from it; Back to CPU undoes it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from app.gpu_env import GpuEnvError
from app.gpu_env.driver import Driver, Gpu
from app.gpu_env.lock import Lock, lock_path, write_lock
from app.gpu_env.manager import GpuEnvManager
from app.gpu_env.offer import examine
from app.gpu_env.startup import active_site
from tests.gpu_env.wheel_server import serving

# test-installers.sh points this at the frozen app; by default the checkout's entry point
APP = shlex.split(os.environ.get("FINESCALE_APP_COMMAND", "")) or [
    sys.executable,
    "-m",
    "app.gpu_env",
]
FAKE_DRIVER = Driver("580.82.07", (Gpu("Stand-in RTX", (8, 9), 8192),))


def write_locks(folder: Path, lock: Lock) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_lock(lock, lock_path(folder, lock.build, lock.platform))
    return folder


def fresh_start_torch(root: Path, *flags: str) -> str:
    """Where a new app process (as the restart makes it) imports torch from."""
    env = {k: v for k, v in os.environ.items() if k != "FINESCALE_TORCH_ENV"}
    env["FINESCALE_GPU_DIR"] = str(root)
    done = subprocess.run(
        [*APP, *flags, "--gpu-probe"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])["torch_file"]


def test_online_download_resumes_verifies_activates_and_goes_back(tmp_path, stand_in):
    wheels, lock = stand_in
    (wheel,) = lock.wheels
    with serving() as server:
        server.files["/whl/" + wheel.filename] = wheels / wheel.filename
        server.drop_after["/whl/" + wheel.filename] = 50_000_000
        online = dataclasses.replace(wheel, url=server.url("/whl/" + wheel.filename))
        lock = dataclasses.replace(lock, wheels=(online,))
        offer = examine(lambda: FAKE_DRIVER, write_locks(tmp_path / "locks", lock))
        assert offer.problem is None and offer.build.tag == "cu130" and offer.lock == lock
        manager = GpuEnvManager(tmp_path / "gpu", APP)
        stages: list[str] = []
        with pytest.raises(GpuEnvError, match="Retry continues where it stopped"):
            manager.enable(offer.lock, stage=stages.append)
        site = manager.enable(offer.lock, stage=stages.append)  # Retry
    assert server.ranges == ["bytes=50000000-"]
    assert any(s.startswith("Testing the GPU build") for s in stages)
    assert (site / "torch" / "lib").is_dir() and active_site(manager.root) == site
    assert manager.active()["torch"] == "2.13.0+cpu"
    assert not manager.downloads.exists()  # the 183 MB wheel is not kept twice
    assert Path(fresh_start_torch(manager.root)).is_relative_to(site)
    assert not Path(fresh_start_torch(manager.root, "--cpu")).is_relative_to(site)
    manager.use_cpu(remove=True)
    assert not Path(fresh_start_torch(manager.root)).is_relative_to(tmp_path)
    assert not manager.envs.exists()


def test_offline_folder_of_wheels(tmp_path, stand_in):
    wheels, lock = stand_in
    offline = dataclasses.replace(lock.wheels[0], url="https://unreachable.invalid/torch.whl")
    lock = dataclasses.replace(lock, wheels=(offline,))
    manager = GpuEnvManager(tmp_path / "gpu", APP)
    with pytest.raises(GpuEnvError, match="missing from"):
        manager.enable(lock, source=tmp_path)
    site = manager.enable(lock, source=wheels)
    assert Path(fresh_start_torch(manager.root)).is_relative_to(site)
    assert (wheels / offline.filename).is_file()  # the user's copy is left where it was
