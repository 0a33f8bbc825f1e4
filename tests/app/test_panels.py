"""Generate panel, progress strip, variations and dialogs, driven as a user would."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.classes import parse_class
from app.dialogs.models_dialog import ModelsDialog
from app.dialogs.outpaint_dialog import OutpaintDialog
from engine.api import UNCONDITIONAL_CLASS
from tests.app.helpers import ScaleRunner, ScriptedPrompts, gradient_image
from tests.tiny_models import write_tiny_checkpoints


def test_first_run_without_models_shows_a_clear_state(make_window, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("FINESCALE_DEMO_DIR", str(tmp_path / "no-demo"))  # a build without it
    prompts = ScriptedPrompts()
    window = make_window(models=[], prompts=prompts)
    panel = window.panel
    assert panel.model_stack.currentIndex() == 1
    assert not panel.generate_button.isEnabled()
    assert "model" in panel.generate_button.toolTip().lower()

    panel.import_button.click()  # opens the models window (never a traceback)
    dialogs = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
    dialog = next(w for w in dialogs if isinstance(w, ModelsDialog))
    assert dialog.isVisible()
    dialog.close()

    folder = tmp_path / "carried"
    write_tiny_checkpoints(folder)
    prompts.import_answer = str(folder)
    window.models._fixed = None  # use the real registry (in the test's data folder)
    with qtbot.waitSignal(window.models.imported, timeout=30_000):
        window.models.import_from_disk()
    assert panel.model_stack.currentIndex() == 0
    assert panel.current_model().choice.model_id.startswith("custom-")
    assert panel.generate_button.isEnabled()


def test_import_of_a_bad_folder_is_a_plain_error(make_window, qtbot, tmp_path):
    prompts = ScriptedPrompts()
    window = make_window(models=[], prompts=prompts)
    prompts.import_answer = str(tmp_path)
    with qtbot.waitSignal(window.models.import_failed, timeout=10_000):
        window.models.import_from_disk()
    ((message, _detail),) = prompts.errors
    assert "no model files" in message and "Traceback" not in message


def test_instruction_enter_runs_and_history_recalls(make_window, qtbot):
    runner = ScaleRunner()
    window = make_window(runner=runner)
    window.document.load(gradient_image())
    window.document.fill_rect((5, 5), (25, 25), True)
    edit = window.panel.instruction
    edit.setText("golden retriever")
    assert window.panel.class_picker.class_label() == 207, "a class name picks the class"
    with qtbot.waitSignal(window.bridge.job_finished, timeout=10_000):
        QTest.keyClick(edit, Qt.Key.Key_Return)
    assert runner.requests[-1].class_label == 207
    edit.clear()
    QTest.keyClick(edit, Qt.Key.Key_Up)
    assert edit.text() == "golden retriever"
    assert window.settings.instruction_history() == ["golden retriever"]


def test_class_picker_accepts_numbers_and_names():
    assert parse_class("207") == 207
    assert parse_class("207 golden retriever") == 207
    assert parse_class("Golden Retriever") == 207
    assert parse_class("volc") == 980
    assert parse_class("") == UNCONDITIONAL_CLASS
    assert parse_class("1000") is None
    assert parse_class("unicorn") is None


def test_seed_lock_reuses_seed_and_unlocked_rerolls(make_window):
    panel = make_window().panel
    panel.seed_lock.setChecked(True)
    panel.seed.setValue(1234)
    assert panel.settings().seed == 1234 and panel.settings().seed == 1234
    panel.seed_lock.setChecked(False)
    seeds = {panel.settings().seed for _ in range(4)}
    assert len(seeds) > 1


def test_strip_fills_one_thumbnail_per_scale(qtbot):
    from app.widgets.scale_progress import ScaleProgressStrip

    strip = ScaleProgressStrip()
    qtbot.addWidget(strip)
    strip.start("Fill mask…")
    pixmap = QPixmap(8, 8)
    pixmap.fill(Qt.GlobalColor.red)
    strip.progress(0, 2, 0, 5, pixmap)
    strip.progress(0, 2, 3, 5, pixmap)  # a coalesced jump: 1 and 2 are marked too
    assert strip.filled_count == 4
    assert strip.bar.text().startswith("Scale 4/5 · variation 1/2")
    strip.progress(1, 2, 0, 5, pixmap)
    assert strip.filled_count == 1, "the next variation starts its strip over"
    strip.finish("done", 1.25)
    assert "1.2" in strip.bar.text() or "1.3" in strip.bar.text()
    assert not strip.cancel_button.isEnabled()


def test_compare_split_and_backslash_show_the_original(make_window, qtbot):
    window = make_window()
    window.document.load(gradient_image())
    window.document.fill_rect((5, 5), (25, 25), True)
    with qtbot.waitSignal(window.bridge.job_finished, timeout=10_000):
        window.panel.generate_button.click()
    canvas = window.canvas
    assert canvas.has_candidate and canvas._candidate.isVisible()
    window.variations.compare.setValue(40)
    assert canvas._candidate.split == 0.4
    canvas.setFocus()
    QTest.keyPress(canvas, Qt.Key.Key_Backslash)
    assert not canvas._candidate.isVisible()
    QTest.keyRelease(canvas, Qt.Key.Key_Backslash)
    assert canvas._candidate.isVisible()
    window.variations.discard_button.click()
    assert not canvas.has_candidate and window.variations.count == 0


def test_outpaint_dialog_presets_and_pixels(qtbot):
    dialog = OutpaintDialog(None, 200, 100)
    qtbot.addWidget(dialog)
    assert not dialog.ok_button.isEnabled()
    dialog.set_percent("left", 25)
    dialog.set_percent("bottom", 100)
    dialog.spins["top"].setValue(7)
    sides = dialog.sides()
    assert (sides.left, sides.right, sides.top, sides.bottom) == (50, 0, 7, 100)
    assert "250 × 207" in dialog.summary.text()
    dialog.set_all(50)
    assert dialog.sides().right == 100 and dialog.sides().top == 50
