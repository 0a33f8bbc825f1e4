"""The headless screenshot mode renders a populated window to a PNG."""

from __future__ import annotations

import numpy as np
from PIL import Image

from app.engine_bridge import EngineBridge
from app.screenshot import demo_image, render_screenshot
from tests.app.helpers import ScaleRunner


def test_screenshot_renders_a_populated_window(qtbot, data_dir, tmp_path):
    bridge = EngineBridge.create(runner=ScaleRunner())
    target = tmp_path / "shot.png"
    try:
        assert render_screenshot(bridge, str(target)) == 0
    finally:
        bridge.shutdown()
    pixels = np.asarray(Image.open(target).convert("RGB"))
    assert pixels.shape[0] > 600 and pixels.shape[1] > 1000
    assert pixels.std() > 20, "not a blank frame"


def test_demo_image_is_deterministic():
    np.testing.assert_array_equal(demo_image(64, 48), demo_image(64, 48))
