"""Which torch a start imports: the active build, --cpu, and the fall-back after a failed start."""

from __future__ import annotations

import json
import sys

import pytest

from app.gpu_env import startup
from app.gpu_env.manager import GpuEnvManager


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("FINESCALE_GPU_DIR", str(tmp_path / "gpu"))
    monkeypatch.delenv(startup.ENV_VAR, raising=False)
    monkeypatch.delenv(startup.FELL_BACK, raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    site = tmp_path / "gpu" / "envs" / "cu130" / "site-packages"
    site.mkdir(parents=True)
    active = {"build": "cu130", "torch": "2.13.0+cu130", "site": "envs/cu130/site-packages"}
    (tmp_path / "gpu" / "active.json").write_text(json.dumps(active))
    return tmp_path / "gpu"


def test_active_build_goes_first_on_sys_path_and_children_inherit_it(root):
    site = root / "envs" / "cu130" / "site-packages"
    assert startup.prepare(["photo.png"]) == ["photo.png"]
    assert sys.path[0] == str(site) and startup.os.environ[startup.ENV_VAR] == str(site)
    assert json.loads((root / "launching.json").read_text()) == {"site": str(site)}


def test_cpu_flag_keeps_the_bundled_torch(root):
    before = list(sys.path)
    assert startup.prepare(["--cpu", "photo.png"]) == ["photo.png"]
    assert sys.path == before and startup.os.environ[startup.ENV_VAR] == ""
    assert not (root / "launching.json").exists()


def test_a_start_that_never_showed_its_window_falls_back_to_cpu_once(root):
    startup.prepare([])  # the GPU build's start crashed before the window: marker left behind
    sys.path.pop(0)
    startup.os.environ.pop(startup.ENV_VAR)
    before = list(sys.path)
    startup.prepare([])
    assert sys.path == before and startup.os.environ[startup.FELL_BACK] == "1"
    assert not (root / "active.json").exists() and (root / "active.failed.json").exists()
    assert GpuEnvManager(root).retry_failed() and (root / "active.json").exists()


def test_a_start_that_showed_its_window_keeps_the_gpu_build(root):
    startup.prepare([])
    startup.mark_started(root)
    sys.path.pop(0)
    startup.os.environ.pop(startup.ENV_VAR)
    startup.prepare([])
    assert sys.path[0].endswith("site-packages") and startup.FELL_BACK not in startup.os.environ


def test_headless_runs_leave_no_marker_and_a_missing_folder_means_cpu(root):
    startup.prepare(["--self-test"])
    assert not (root / "launching.json").exists()
    (root / "envs" / "cu130" / "site-packages").rmdir()
    assert startup.active_site(root) is None
