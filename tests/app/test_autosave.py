"""Crash safety: autosave after changes, restore after a crash, nothing left after a clean exit."""

from __future__ import annotations

import numpy as np

from app.autosave import autosave_path, read_autosave
from tests.app.helpers import ScriptedPrompts, gradient_image


def test_autosave_then_crash_offers_restore_and_restores(make_window, qtbot, data_dir):
    crashed = make_window(autosave_delay_ms=50, register=False)  # never closed: a "crash"
    image = gradient_image(64, 48)
    crashed.document.load(image)
    crashed.document.fill_rect((4, 4), (20, 16), True)
    edited = image.copy()
    edited[30:, :, 0] = 255
    crashed.document.apply_image(edited, "Apply variation 1")
    mask = crashed.document.mask.copy()
    path = autosave_path(data_dir)
    qtbot.waitUntil(path.is_file, timeout=5_000)
    crashed.autosaver.wait()
    crashed.autosaver._timer.stop()  # the process "dies": no more writes, no clean exit
    crashed.hide()

    prompts = ScriptedPrompts()
    window = make_window(prompts=prompts)
    assert window.offer_restore()
    assert prompts.asked[-1][0] == "restore" and "64 × 48" in prompts.asked[-1][1]
    np.testing.assert_array_equal(window.document.image, edited)
    np.testing.assert_array_equal(window.document.mask, mask)
    assert window.document.is_modified, "restored work still needs saving"

    assert window.close()  # clean exit (scripted: discard)
    assert not path.exists()
    crashed.deleteLater()


def test_declining_restore_deletes_the_autosave(make_window, qtbot, data_dir):
    crashed = make_window(autosave_delay_ms=20, register=False)
    crashed.document.load(gradient_image())
    crashed.document.fill_rect((1, 1), (9, 9), True)
    path = autosave_path(data_dir)
    qtbot.waitUntil(path.is_file, timeout=5_000)
    crashed.autosaver.wait()
    crashed.autosaver._timer.stop()
    crashed.hide()

    prompts = ScriptedPrompts()
    prompts.restore_answer = False
    window = make_window(prompts=prompts)
    assert not window.offer_restore()
    assert not path.exists()
    assert not window.document.has_image
    crashed.deleteLater()


def test_no_autosave_no_question(make_window, data_dir):
    prompts = ScriptedPrompts()
    window = make_window(prompts=prompts)
    assert not window.offer_restore()
    assert prompts.asked == []


def test_damaged_autosave_is_ignored(data_dir):
    autosave_path(data_dir).write_bytes(b"garbage")
    assert read_autosave(data_dir) is None


def test_saving_removes_the_autosave(make_window, qtbot, data_dir, tmp_path):
    prompts = ScriptedPrompts()
    window = make_window(prompts=prompts, autosave_delay_ms=20)
    window.document.load(gradient_image())
    window.document.fill_rect((1, 1), (9, 9), True)
    path = autosave_path(data_dir)
    qtbot.waitUntil(path.is_file, timeout=5_000)
    prompts.save_answer = str(tmp_path / "kept.png")
    with qtbot.waitSignal(window.files.io.saved, timeout=10_000):
        window.save_action.trigger()
    qtbot.waitUntil(lambda: not path.exists(), timeout=5_000)
