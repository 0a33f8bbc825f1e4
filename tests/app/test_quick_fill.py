"""The model picker on a fresh install: the shipped demo first, Quick fill always there."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from app.engine_access import QUICK_FILLS, installed_models
from tests.app.helpers import gradient_image


def test_fresh_install_lists_the_demo_first_and_quick_fill_last(data_dir):
    entries = installed_models()
    assert entries[0].choice.model_id == "demo" and entries[0].demo
    assert entries[-len(QUICK_FILLS) :] == list(QUICK_FILLS)
    assert all(entry.hint for entry in entries), "the picker says what each choice is"
    assert all(entry.tasks == {"inpaint"} for entry in QUICK_FILLS)


def test_without_the_demo_quick_fill_still_retouches(data_dir, monkeypatch):
    monkeypatch.setenv("FINESCALE_DEMO_DIR", str(data_dir / "no-demo"))
    assert installed_models() == list(QUICK_FILLS)


def test_quick_fill_in_the_window_fills_the_hole_and_nothing_else(make_window, qtbot):
    window = make_window(real_engine=True, models=list(QUICK_FILLS))
    panel = window.panel
    assert "model-free" in panel.model_combo.itemData(0, Qt.ToolTipRole)
    reason = panel.mode_reason("outpaint")
    assert reason and "Quick fill" in reason, "other modes say why they are off"

    clean = gradient_image(96, 64)
    image = clean.copy()
    image[20:30, 40:50] = (255, 0, 255)  # a defect to retouch
    window.document.load(image)
    window.document.fill_rect((38, 18), (52, 32), True)
    panel.grow.setValue(0)
    with qtbot.waitSignal(window.bridge.job_finished, timeout=20_000):
        panel.generate_button.click()
    mask = window.document.mask.copy()  # Apply clears the mask
    window.variations.apply_button.click()
    result = window.document.image
    np.testing.assert_array_equal(result[~mask], image[~mask])
    error = np.abs(result[20:30, 40:50].astype(int) - clean[20:30, 40:50]).mean()
    assert error < 20, f"the defect is filled from its surroundings (mean error {error:.1f})"
