"""Text-guided in/out-painting in the window: a tiny random Infinity through the real bridge.

The Generate panel's prompt box is the prompt (as the instruction box is in Edit mode): empty, the
job is blocked with a reason; typed, it reaches the engine and the masked area is repainted,
every pixel outside the grown mask kept.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.engine_access import ModelEntry
from app.requests import build_generate, build_outpaint
from engine.api import ModelChoice
from engine.capabilities import task_defaults
from engine.imaging.masks import grow_mask
from engine.models.infinity.config import SQUARE_SIDES
from tests.app.helpers import ScriptedPrompts, gradient_image


@pytest.fixture(scope="module")
def infinity_entry(tmp_path_factory) -> ModelEntry:
    from tests.engine.infinity.recipes import write_released, write_t5_folder

    folder = tmp_path_factory.mktemp("infinity")
    transformer, vae = write_released(folder, "safetensors")
    choice = ModelChoice.from_files(
        family="infinity",
        transformer=transformer,
        vae=vae,
        text_encoder=write_t5_folder(folder / "t5"),
        patch_nums=SQUARE_SIDES[:7],  # 256 px
    )
    tasks = frozenset({"inpaint", "outpaint", "generate"})
    return ModelEntry("tiny Infinity", choice, tasks, family="infinity")


def test_the_prompt_box_drives_text_guided_inpainting(make_window, qtbot, infinity_entry):
    window = make_window(real_engine=True, models=[infinity_entry])
    panel = window.panel
    image = gradient_image(160, 120)
    window.document.load(image)
    panel.set_mode("inpaint")
    assert panel.mode() == "inpaint" and panel.prompted()
    assert panel.tau.isVisible() and not panel.class_picker.isEnabled()
    assert "Describe what to paint" in panel.instruction.placeholderText()
    defaults = task_defaults("infinity", "inpaint")
    assert (panel.cfg.value(), panel.tau.value()) == (defaults.sampling.cfg, defaults.sampling.tau)
    window.document.fill_rect((50, 30), (110, 90), True)
    assert "Type what to paint" in window.jobs.blocker()
    panel.instruction.setText("a red wooden bench")
    assert window.jobs.blocker() is None
    panel.samples.setValue(1)
    with qtbot.waitSignal(window.bridge.job_finished, timeout=120_000):
        panel.generate_button.click()
    window.variations.apply_button.click()
    result = window.document.image
    mask = np.zeros(image.shape[:2], bool)
    mask[30:90, 50:110] = True
    outside = ~grow_mask(mask, panel.grow.value())
    np.testing.assert_array_equal(result[outside], image[outside])
    assert not np.array_equal(result[mask], image[mask])


def test_outpaint_and_generate_send_the_prompt(make_window, qtbot, infinity_entry):
    prompts = ScriptedPrompts()
    window = make_window(real_engine=True, models=[infinity_entry], prompts=prompts)
    panel = window.panel
    image = gradient_image(120, 90)
    window.document.load(image)
    panel.set_mode("outpaint")
    assert panel.prompted()
    panel.instruction.setText("a stone wall")
    request = build_outpaint(panel.settings(reroll=False), image, 0, 40, 0, 0)
    assert request.prompt == "a stone wall" and request.model.family == "infinity"
    panel.set_mode("generate")
    assert panel.prompted() and window.jobs.blocker() is None
    assert build_generate(panel.settings(reroll=False)).prompt == "a stone wall"


def test_class_models_keep_the_class_picker(make_window):
    window = make_window()
    window.panel.set_mode("inpaint")
    assert not window.panel.prompted()
    assert window.panel.class_picker.isEnabled() and not window.panel.tau.isVisible()
