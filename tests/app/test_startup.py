"""Start-up: the window's modules never import torch; the engine is built behind the window."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from app.engine_bridge import EngineBridge
from engine.api import InpaintRequest, ModelChoice

ROOT = Path(__file__).resolve().parents[2]


def test_the_window_modules_do_not_import_torch():
    code = (
        "import sys\n"
        "import app.main_window, app.engine_bridge, app.__main__\n"
        "assert 'torch' not in sys.modules, 'torch was imported before the window'\n"
        "assert 'engine.service' not in sys.modules\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr


def test_a_background_started_engine_runs_a_job(qtbot):
    bridge = EngineBridge.start_in_background()
    try:
        qtbot.waitUntil(lambda: bridge.engine_started, timeout=60_000)
        image = np.full((40, 40, 3), 120, np.uint8)
        mask = np.zeros((40, 40), bool)
        mask[10:20, 10:20] = True
        request = InpaintRequest(ModelChoice(model_id="quick-fill"), image, mask, grow_px=0)
        with qtbot.waitSignal(bridge.job_finished, timeout=30_000) as finished:
            bridge.submit(request)
        result = finished.args[0].result.variations[0].image
        np.testing.assert_array_equal(result[~mask], image[~mask])
    finally:
        bridge.shutdown()


def test_submitting_before_the_engine_is_ready_waits_for_it(qtbot):
    bridge = EngineBridge.start_in_background()
    try:
        image = np.zeros((16, 16, 3), np.uint8)
        mask = np.ones((16, 16), bool)
        with qtbot.waitSignal(bridge.job_finished, timeout=60_000):
            bridge.submit(InpaintRequest(ModelChoice(model_id="quick-fill"), image, mask))
        assert bridge.engine_started
    finally:
        bridge.shutdown()
