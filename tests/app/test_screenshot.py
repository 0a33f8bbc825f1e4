"""The headless screenshot is a real in-paint by the shipped demo model, through the real engine."""

from __future__ import annotations

import numpy as np
from PIL import Image

from app.engine_access import load_image, sample_photo
from app.engine_bridge import EngineBridge
from app.screenshot import SAMPLES, render_screenshot, staged_window
from engine.masks import grow_mask


def test_staged_window_shows_a_finished_demo_inpaint(qtbot, data_dir):
    bridge = EngineBridge.create()  # the default runner: engine.pipelines with real models
    try:
        window = staged_window(bridge)
        qtbot.addWidget(window)
        assert window.panel.current_model().demo
        assert window.variations.count == SAMPLES
        assert window.strip.filled_count > 0 and window.canvas.has_candidate

        window.variations.apply_button.click()
        original = load_image(sample_photo()).pixels
        mask = window.document.mask
        changed = np.any(window.document.image != original, axis=-1)
        assert changed.any(), "the model painted something"
        grown = grow_mask(mask, window.panel.grow.value())
        assert not changed[~grown].any(), "pixels outside the (grown) mask come back bit-exact"
        window.document.undo_stack.setClean()
    finally:
        bridge.shutdown()


def test_screenshot_renders_a_populated_window(qtbot, data_dir, tmp_path):
    bridge = EngineBridge.create()
    target = tmp_path / "shot.png"
    try:
        assert render_screenshot(bridge, str(target)) == 0
    finally:
        bridge.shutdown()
    pixels = np.asarray(Image.open(target).convert("RGB"))
    assert pixels.shape[0] > 600 and pixels.shape[1] > 1000
    assert pixels.std() > 20, "not a blank frame"


def test_a_missing_demo_model_is_a_plain_failure(qtbot, data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FINESCALE_DEMO_DIR", str(tmp_path / "none"))
    bridge = EngineBridge.create()
    try:
        assert render_screenshot(bridge, str(tmp_path / "shot.png")) == 1
    finally:
        bridge.shutdown()
    assert "demo model is not installed" in capsys.readouterr().out
    assert not (tmp_path / "shot.png").exists()
