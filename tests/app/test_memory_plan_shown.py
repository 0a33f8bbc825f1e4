"""The memory plan shown to the user: the Models window's column and the Edit mode's line,
with real widgets over a real engine (the planner's arithmetic runs on its transfer lane)."""

from __future__ import annotations

import re

from app.dialogs.models_dialog import ModelsDialog
from app.dialogs.models_table import MEMORY
from app.engine_access import ModelEntry
from app.engine_bridge import EngineBridge
from engine.api import ModelChoice
from tests.app.helpers import ScriptedPrompts, gradient_image

PLAN_LINE = re.compile(r"^(fits in RAM \(~\d+\.\d GB\)|needs ~\d+\.\d GB)")


def test_models_window_shows_each_models_plan(qtbot):
    bridge = EngineBridge.create()
    dialog = ModelsDialog(None, ScriptedPrompts(), bridge, device="cpu", dtype="fp32")
    qtbot.addWidget(dialog)
    try:
        dialog.show()
        qtbot.waitExposed(dialog)

        def cell(model_id: str) -> str:
            return dialog.table.item(dialog.row_of(model_id), MEMORY).text()

        qtbot.waitUntil(lambda: {"demo", "varedit-8b-512"} <= set(dialog.memory_plans.plans))
        demo = dialog.memory_plans.plans["demo"]
        assert cell("demo") == demo.summary() and cell("demo").startswith("fits in RAM")
        big = dialog.memory_plans.plans["varedit-8b-512"]
        assert cell("varedit-8b-512") == big.summary() and PLAN_LINE.match(cell("varedit-8b-512"))
        tip = dialog.table.item(dialog.row_of("varedit-8b-512"), MEMORY).toolTip()
        assert "kv cache:" in tip and "strategy: " in tip and "total: " in tip
        header = dialog.table.horizontalHeaderItem(MEMORY)
        assert header.text() == "Memory (cpu, fp32)" and "planner" in header.toolTip()
        dialog.refresh()  # a refresh keeps the known plans in view while it asks again
        assert cell("demo") == demo.summary()
    finally:
        dialog.shutdown()
        bridge.shutdown()


def panel_with(make_window, entry: ModelEntry):
    """A window offering ``entry`` (picked) and the demo, with a picture open."""
    demo = ModelEntry("Demo", ModelChoice(model_id="demo"), frozenset({"inpaint"}), demo=True)
    window = make_window(models=[entry, demo])
    window.panel.model_combo.setCurrentIndex(0)
    window.document.load(gradient_image(64, 48))
    return window.panel


def test_edit_mode_shows_the_plan_before_a_run(make_window, qtbot):
    varedit = ModelEntry(
        "VAREdit-8B (512 px)",
        ModelChoice(model_id="varedit-8b-512", device="cpu", dtype="bf16"),
        frozenset({"edit"}),
        family="varedit",
    )
    panel = panel_with(make_window, varedit)
    assert panel.mode() == "edit"
    qtbot.waitUntil(lambda: PLAN_LINE.match(panel.estimate.text()) is not None)
    assert panel.estimate.isVisible()
    assert "GB" in panel.estimate.text()
    panel.model_combo.setCurrentIndex(1)  # the demo offers in-painting only: no plan line
    qtbot.waitUntil(lambda: panel.mode() == "inpaint")
    assert not panel.estimate.isVisible()


def test_text_guided_in_painting_shows_the_plan_too(make_window, qtbot):
    infinity = ModelEntry(
        "Infinity-2B",
        ModelChoice(model_id="infinity-2b", device="cpu", dtype="bf16"),
        frozenset({"inpaint", "outpaint"}),
        family="infinity",
    )
    panel = panel_with(make_window, infinity)
    assert panel.mode() == "inpaint"
    qtbot.waitUntil(lambda: PLAN_LINE.match(panel.estimate.text()) is not None)
    assert panel.estimate.isVisible()
    panel.model_combo.setCurrentIndex(1)  # a VAR model in the same mode: no plan line
    qtbot.waitUntil(lambda: not panel.estimate.isVisible())
    assert panel.mode() == "inpaint"
