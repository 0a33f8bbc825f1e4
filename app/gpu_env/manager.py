"""Install, verify, switch to and leave the managed GPU build (no Qt; the dialog drives it).

Layout of the managed folder (``startup.gpu_root()``)::

    downloads/           verified wheels and resumable ``.part`` files (emptied after success)
    envs/<build>/site-packages/    an installed, verified build
    active.json          {"build", "torch", "site"}: what the next start imports
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from app.gpu_env import GpuEnvError
from app.gpu_env.download import Cancelled, Progress, download, from_folder
from app.gpu_env.lock import Lock
from app.gpu_env.startup import ENV_VAR, PROBE_OUT, active_site, read_json
from app.gpu_env.wheels import install_wheel, unpacked_size

GB = 1 << 30
UNPACK_FACTOR = 3  # installed / wheel bytes is 2.1 (CUDA) to 4.1 (CPU torch); a pre-download guess
SELF_TEST_TIMEOUT_S = 900

Stage = Callable[[str], None]


def app_command() -> list[str]:
    """How to start this app again (frozen executable, or the module in a checkout)."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "app.gpu_env"]


def _free_bytes(path: Path) -> int:
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free


class GpuEnvManager:
    def __init__(self, root: Path, command: list[str] | None = None):
        self.root = root
        self.command = command or app_command()
        self.downloads = root / "downloads"
        self.envs = root / "envs"

    def active(self) -> dict | None:
        return read_json(self.root / "active.json") if active_site(self.root) else None

    def enable(
        self,
        lock: Lock,
        source: Path | None = None,
        progress: Progress | None = None,
        cancelled: Cancelled | None = None,
        stage: Stage | None = None,
    ) -> Path:
        """Fetch (or take from ``source``), install, verify and activate ``lock``'s build."""
        stage = stage or (lambda text: None)
        self._check_space(lock.total_bytes * UNPACK_FACTOR + self._left_to_download(lock, source))
        stage("Checking the files you brought" if source else "Downloading")
        files = [
            from_folder(w, source) if source else download(w, self.downloads, progress, cancelled)
            for w in lock.wheels
        ]
        self._check_space(sum(unpacked_size(f) for f in files))
        staging = self.envs / f"{lock.build}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        site = staging / "site-packages"
        for number, wheel in enumerate(files, 1):
            stage(f"Installing {number} of {len(files)}: {wheel.name}")
            install_wheel(wheel, site)
        stage("Testing the GPU build (the app's self-test)")
        try:
            self.verify(site, lock)
        except GpuEnvError:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        final = self.envs / lock.build
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
        self._activate(lock, final / "site-packages")
        shutil.rmtree(self.downloads, ignore_errors=True)
        return final / "site-packages"

    def _left_to_download(self, lock: Lock, source: Path | None) -> int:
        if source is not None:
            return 0
        return sum(w.size or 0 for w in lock.wheels if not (self.downloads / w.filename).is_file())

    def _check_space(self, needed: int) -> None:
        free = _free_bytes(self.root)
        if free < needed:
            raise GpuEnvError(
                f"GPU acceleration needs about {needed / GB:.1f} GB free in {self.root}; "
                f"there are {free / GB:.1f} GB. Free some space and press Retry."
            )

    def _run(
        self, site: Path, flag: str, timeout: float, **extra: str
    ) -> subprocess.CompletedProcess:
        env = dict(os.environ, **{ENV_VAR: str(site)}, **extra)
        env.pop("FINESCALE_DATA_DIR", None)  # the self-test picks its own scratch folder
        try:
            return subprocess.run(
                [*self.command, flag],
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise GpuEnvError(f"The GPU build did not finish {flag} in {timeout:.0f} s.") from exc

    def verify(self, site: Path, lock: Lock) -> dict:
        """Prove ``site`` works: torch is imported from it, computes, and the self-test passes."""
        report_file = site.parent / "probe.json"
        done = self._run(site, "--gpu-probe", 300, **{PROBE_OUT: str(report_file)})
        report = read_json(report_file)
        if done.returncode != 0 or report is None:
            raise GpuEnvError(f"The GPU build does not start: {_last_line(done)}")
        if not Path(report["torch_file"]).resolve().is_relative_to(site.resolve()):
            raise GpuEnvError(f"The app imported torch from {report['torch_file']}, not {site}.")
        if report["version"] != lock.torch:
            raise GpuEnvError(f"The GPU build has torch {report['version']}, not {lock.torch}.")
        if "+cu" in lock.torch and not (report["available"] and report.get("matmul_ok")):
            raise GpuEnvError(
                "The GPU build is installed but cannot use the GPU (torch.cuda is not "
                "available); the driver may need an update."
            )
        test = self._run(site, "--self-test", SELF_TEST_TIMEOUT_S)
        if test.returncode != 0:
            raise GpuEnvError(f"The GPU build failed the self-test: {_last_line(test)}")
        return report

    def _activate(self, lock: Lock, site: Path) -> None:
        active = {
            "build": lock.build,
            "torch": lock.torch,
            "site": str(site.relative_to(self.root)),
        }
        (self.root / "active.json").write_text(json.dumps(active), encoding="utf-8")
        (self.root / "active.failed.json").unlink(missing_ok=True)

    def retry_failed(self) -> bool:
        """Re-activate a build that fell back to the CPU after a failed start."""
        failed = self.root / "active.failed.json"
        if not failed.is_file():
            return False
        failed.replace(self.root / "active.json")
        return True

    def use_cpu(self, remove: bool = False) -> None:
        """Back to the bundled CPU torch at the next start; ``remove`` frees the disk space."""
        (self.root / "active.json").unlink(missing_ok=True)
        (self.root / "active.failed.json").unlink(missing_ok=True)
        if remove:
            shutil.rmtree(self.envs, ignore_errors=True)
            shutil.rmtree(self.downloads, ignore_errors=True)


def _last_line(done: subprocess.CompletedProcess) -> str:
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {done.returncode}"
