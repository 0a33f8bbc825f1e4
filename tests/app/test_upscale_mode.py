"""Upscale mode on the open image: the planner's estimate, a run with progress, the result as a
new document while the original stays as it was."""

from __future__ import annotations

import numpy as np

from app.engine_access import QUICK_FILLS, installed_models
from tests.app.helpers import ScriptedPrompts, gradient_image


def fast_upscale():
    return next(e for e in QUICK_FILLS if e.family == "lanczos")


def test_upscale_with_the_demo_model_opens_a_new_document(make_window, qtbot):
    demo = next(e for e in installed_models() if e.demo)
    assert "upscale" in demo.tasks
    prompts = ScriptedPrompts()
    window = make_window(real_engine=True, models=[demo, fast_upscale()], prompts=prompts)
    panel = window.panel
    original = gradient_image(90, 60)
    window.document.load(original)
    panel.set_mode("upscale")
    assert panel.upscale_factor.isVisible() and panel.fidelity.isVisible()
    qtbot.waitUntil(lambda: "tiles" in panel.estimate.text(), timeout=60_000)
    assert "90x" not in panel.estimate.text() and "x2" in panel.estimate.text()
    progress = []
    window.bridge.scale_progress.connect(progress.append)
    with qtbot.waitSignal(window.bridge.job_finished, timeout=120_000) as finished:
        panel.generate_button.click()
    assert progress and progress[-1].sample_index == progress[-1].num_samples - 1
    result = finished.args[0].result.variations[0].image
    assert result.shape == (120, 180, 3)
    np.testing.assert_array_equal(window.document.image, original)  # nothing pasted over it
    window.variations.apply_button.click()
    assert window.document.image.shape == (120, 180, 3)
    assert "Upscaled" in window.windowTitle()


def test_fast_upscale_needs_no_model_and_estimates_instantly(make_window, qtbot):
    window = make_window(real_engine=True, models=[fast_upscale()])
    panel = window.panel
    window.document.load(gradient_image(64, 48))
    assert panel.mode() == "upscale", "the only mode the fast tool offers"
    panel.upscale_factor.setCurrentIndex(panel.upscale_factor.findData(3))
    assert not panel.fidelity.isVisible(), "no fidelity without a model"
    qtbot.waitUntil(lambda: "instant" in panel.estimate.text(), timeout=20_000)
    with qtbot.waitSignal(window.bridge.job_finished, timeout=20_000) as finished:
        panel.generate_button.click()
    assert finished.args[0].result.variations[0].image.shape == (144, 192, 3)
