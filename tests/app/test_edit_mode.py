"""Edit by instruction in the window: a tiny random VAREdit through the real bridge and engine."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine_access import ModelEntry
from engine.api import ModelChoice, ScaleProgress
from engine.models.infinity.config import SQUARE_SIDES
from tests.app.helpers import gradient_image


@pytest.fixture(scope="module")
def varedit_entry(tmp_path_factory) -> ModelEntry:
    from tests.engine.infinity.recipes import write_released, write_t5_folder

    folder = tmp_path_factory.mktemp("varedit")
    transformer, vae = write_released(folder, "safetensors")
    choice = ModelChoice.from_files(
        family="varedit",
        transformer=transformer,
        vae=vae,
        text_encoder=write_t5_folder(folder / "t5"),
        patch_nums=SQUARE_SIDES[:7],  # 256 px, the fixture's schedule
    )
    return ModelEntry("tiny VAREdit", choice, frozenset({"edit"}), family="varedit")


def test_typing_an_instruction_and_pressing_edit_applies_and_undoes(
    make_window, qtbot, varedit_entry
):
    window = make_window(real_engine=True, models=[varedit_entry])
    panel = window.panel
    image = gradient_image(120, 90)
    window.document.load(image)
    assert panel.mode() == "edit", "the only mode this model offers"
    assert panel.tau.isVisible() and panel.limit_to_mask.isVisible()
    assert not panel.generate_button.isEnabled() or window.jobs.blocker() is not None
    panel.instruction.setText("make it winter")
    assert window.jobs.blocker() is None
    panel.samples.setValue(2)
    previews: list[ScaleProgress] = []
    window.bridge.scale_progress.connect(previews.append)
    with qtbot.waitSignal(window.bridge.job_finished, timeout=120_000):
        panel.generate_button.click()

    assert {p.scale_index for p in previews} == set(range(7)), "one preview per scale"
    assert window.variations.count == 2
    window.variations.apply_button.click()
    edited = window.document.image
    assert edited.shape == image.shape and not np.array_equal(edited, image)
    window.undo_action.trigger()
    np.testing.assert_array_equal(window.document.image, image)


def test_limit_to_mask_keeps_every_pixel_outside_it(make_window, qtbot, varedit_entry):
    window = make_window(real_engine=True, models=[varedit_entry])
    panel = window.panel
    image = gradient_image(100, 80)
    window.document.load(image)
    panel.instruction.setText("a red hat")
    panel.limit_to_mask.setChecked(True)
    assert "Paint the area" in window.jobs.blocker()
    window.document.fill_rect((30, 20), (70, 60), True)
    panel.samples.setValue(1)
    panel.grow.setValue(2)
    with qtbot.waitSignal(window.bridge.job_finished, timeout=120_000):
        panel.generate_button.click()
    window.variations.apply_button.click()
    result = window.document.image
    outside = np.ones(image.shape[:2], bool)
    outside[20 - 3 : 60 + 3, 30 - 3 : 70 + 3] = False
    np.testing.assert_array_equal(result[outside], image[outside])
    assert not np.array_equal(result[20:60, 30:70], image[20:60, 30:70])


def test_without_an_editing_model_the_mode_says_which_one_to_get(make_window):
    window = make_window()
    row = window.panel.mode_combo.findData("edit")
    tip = window.panel.mode_combo.model().item(row).toolTip()
    assert "VAREdit" in tip and "GB" in tip and "Models" in tip
