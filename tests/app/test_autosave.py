"""Crash safety: autosave after changes, restore after a crash, nothing left after a clean exit."""

from __future__ import annotations

import json

import numpy as np

from app.autosave import autosave_path, base_path, read_autosave, write_npz_atomically
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
    assert "with its undo history" in window.statusBar().currentMessage()

    # The undo history came back too: step back through the result and the rectangle.
    stack = window.document.undo_stack
    assert [stack.text(i) for i in range(stack.count())] == ["Rectangle", "Apply variation 1"]
    stack.undo()
    np.testing.assert_array_equal(window.document.image, image)
    assert window.document.mask[4:16, 4:20].all()
    stack.undo()
    assert not window.document.mask.any()
    stack.redo()
    stack.redo()
    np.testing.assert_array_equal(window.document.image, edited)

    assert window.close()  # clean exit (scripted: discard)
    assert not path.exists() and not base_path(data_dir).exists()
    crashed.deleteLater()


def test_history_keeps_the_redo_side_and_drops_the_oldest_over_budget(make_window, qtbot):
    from app.state.history import capture, restore

    window = make_window()
    doc = window.document
    image = gradient_image(64, 48)
    doc.load(image)
    for i in range(4):
        doc.fill_rect((4 * i, 0), (4 * i + 3, 10), True)
    doc.apply_image(np.full_like(image, 7), "Apply variation 1")
    doc.undo_stack.undo()  # the result is on the redo side
    current_image, current_mask = doc.image.copy(), doc.mask.copy()

    commands = [doc.undo_stack.command(i) for i in range(doc.undo_stack.count())]
    newest_three = sum(a.nbytes for c in commands[2:] for a in _arrays(c))
    kept = capture(doc, budget=newest_three).saved  # the result and the last 2 strokes fit
    assert [c["kind"] for c in kept.meta["commands"]] == ["mask", "mask", "image"]
    assert kept.meta["index"] == 2

    other = make_window()
    assert restore(other.document, current_image, current_mask, kept, None)
    stack = other.document.undo_stack
    assert stack.count() == 3 and stack.index() == 2
    np.testing.assert_array_equal(other.document.mask, current_mask)
    stack.redo()
    assert (other.document.image == 7).all(), "the undone result can still be redone"
    stack.undo()
    stack.undo()
    stack.undo()
    assert other.document.mask[0:10, 0:3].all() and other.document.mask[0:10, 4:7].all()
    assert not other.document.mask[0:10, 8:11].any(), "the older strokes start the history"


def _arrays(command) -> list[np.ndarray]:
    if command.kind == "mask":
        return [command.before, command.after]
    return [*command.before, *command.after]


def test_a_history_that_does_not_replay_falls_back_to_the_pixels(make_window):
    from app.state.history import SavedHistory, restore

    window = make_window()
    image = gradient_image(32, 24)
    mask = np.zeros((24, 32), bool)
    bogus = SavedHistory(
        {"index": 1, "commands": [{"kind": "mask", "text": "x", "box": [0, 0, 4, 4]}]},
        {"h0_before": np.ones((4, 4), bool), "h0_after": np.ones((4, 4), bool)},
    )
    assert not restore(window.document, image, mask, bogus, None)
    np.testing.assert_array_equal(window.document.image, image)
    assert window.document.undo_stack.count() == 0 and window.document.is_modified


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
    assert not path.exists() and not base_path(data_dir).exists()
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
    window.autosaver.wait()
    assert not base_path(data_dir).exists()


def test_a_restore_without_its_history_says_so(make_window, qtbot, data_dir):
    crashed = make_window(autosave_delay_ms=20, register=False)
    image = gradient_image(64, 48)
    crashed.document.load(image)
    crashed.document.fill_rect((1, 1), (9, 9), True)
    path = autosave_path(data_dir)
    qtbot.waitUntil(path.is_file, timeout=5_000)
    crashed.autosaver.wait()
    crashed.autosaver._timer.stop()
    crashed.hide()
    base_token = _meta(base_path(data_dir))["token"]
    with np.load(path) as data:  # the crash hit between a new base and its delta
        arrays = {name: data[name] for name in data.files}
    arrays["meta"] = np.array(json.dumps({**_meta(path), "base": base_token[::-1]}))
    write_npz_atomically(path, **arrays)

    prompts = ScriptedPrompts()
    window = make_window(prompts=prompts)
    assert window.offer_restore()
    assert "earlier state" in prompts.asked[-1][1]
    np.testing.assert_array_equal(window.document.image, image)
    assert not window.document.mask.any() and window.document.undo_stack.count() == 0
    message = window.statusBar().currentMessage()
    assert "undo history could not be used" in message and "with its undo" not in message
    crashed.deleteLater()


def _meta(path) -> dict:
    with np.load(path) as data:
        return json.loads(str(data["meta"]))
