"""Failures the user can meet, through the manager and through the real dialog."""

from __future__ import annotations

import dataclasses
import json

import pytest

from app.dialogs.gpu_dialog import GpuDialog
from app.gpu_env import GpuEnvError
from app.gpu_env.driver import Driver, Gpu
from app.gpu_env.lock import Lock
from app.gpu_env.manager import GpuEnvManager
from app.gpu_env.offer import Offer, examine
from tests.gpu_env.helpers import make_wheel, wheel_entry

DRIVER = Driver("550.54.14", (Gpu("Test GPU", (8, 6), 12288),))


@pytest.fixture
def tiny_lock(tmp_path) -> Lock:
    """A lock whose one wheel is not torch: the verifier must catch that it imports no torch."""
    wheel = make_wheel(tmp_path)
    return Lock("cu128", "2.13.0+cu128", "linux-x86_64", (wheel_entry(wheel, wheel.as_uri()),))


def test_not_enough_space_is_said_before_anything_is_downloaded(tmp_path, tiny_lock):
    huge = dataclasses.replace(tiny_lock.wheels[0], size=10**15)
    manager = GpuEnvManager(tmp_path / "gpu")
    with pytest.raises(GpuEnvError, match=r"needs about .* GB free in .*gpu; there are"):
        manager.enable(dataclasses.replace(tiny_lock, wheels=(huge,)))
    assert not manager.downloads.exists()


@pytest.mark.slow  # ~10 s: starts the app's --gpu-probe in a child process
def test_a_build_that_does_not_bring_its_torch_is_refused_and_not_activated(tmp_path, tiny_lock):
    manager = GpuEnvManager(tmp_path / "gpu")
    with pytest.raises(GpuEnvError, match="imported torch from .*, not .*site-packages"):
        manager.enable(tiny_lock)
    assert manager.active() is None and not (manager.envs / "cu128.partial").exists()


def test_missing_driver_and_missing_lock_are_explained(tmp_path):
    assert "No NVIDIA driver" in examine(lambda: None, tmp_path).problem
    offer = examine(lambda: DRIVER, tmp_path)
    assert offer.build.tag == "cu128" and "no package list for cu128" in offer.problem


@pytest.mark.slow  # ~10 s: the same child process, from the dialog's worker thread
def test_dialog_shows_the_failure_and_offers_retry(qtbot, tmp_path, tiny_lock):
    offer = Offer(DRIVER, None, tiny_lock, None)
    dialog = GpuDialog(offer, GpuEnvManager(tmp_path / "gpu"))
    qtbot.addWidget(dialog)
    assert "Test GPU" in dialog.message.text() and dialog.enable_button.isVisibleTo(dialog)
    dialog.enable_button.click()
    qtbot.waitUntil(lambda: dialog.retry_button.isVisibleTo(dialog), timeout=60_000)
    assert "imported torch from" in dialog.message.text()
    assert dialog.folder_button.isVisibleTo(dialog) and not dialog.bar.isVisibleTo(dialog)


def test_dialog_goes_back_to_cpu(qtbot, tmp_path, tiny_lock):
    root = tmp_path / "gpu"
    (root / "envs" / "cu128" / "site-packages").mkdir(parents=True)
    active = {"build": "cu128", "torch": "2.13.0+cu128", "site": "envs/cu128/site-packages"}
    (root / "active.json").write_text(json.dumps(active))
    dialog = GpuDialog(Offer(DRIVER, None, tiny_lock, None), GpuEnvManager(root))
    qtbot.addWidget(dialog)
    assert "GPU acceleration is on (torch 2.13.0+cu128)" in dialog.message.text()
    dialog.free_space.setChecked(True)
    dialog.cpu_button.click()
    assert not (root / "active.json").exists() and not (root / "envs").exists()
    assert dialog.restart_button.isVisibleTo(dialog)
