"""The real ``Prompts`` dialogs: errors keep appearing however many came before."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from app.prompts import Prompts


def visible_boxes() -> list[QMessageBox]:
    widgets = QApplication.topLevelWidgets()
    return [w for w in widgets if isinstance(w, QMessageBox) and w.isVisible()]


def close_and_delete(box: QMessageBox) -> None:
    """What a click on OK does, then the deferred deletion the event loop would run."""
    box.accept()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()


def test_three_errors_in_a_row_each_show_a_dialog(qtbot):
    prompts = Prompts()
    for number in range(1, 4):
        prompts.error(None, f"Error number {number}.", "detail")
        boxes = visible_boxes()
        assert [b.text() for b in boxes] == [f"Error number {number}."]
        close_and_delete(boxes[0])
    assert visible_boxes() == []
    assert prompts.open_boxes == []  # closed boxes are forgotten, not kept as dead wrappers


def test_errors_while_others_are_open_all_show_and_close_independently(qtbot):
    prompts = Prompts()
    prompts.error(None, "First.")
    prompts.info(None, "Note", "Second.")
    prompts.error(None, "Third.")
    assert sorted(b.text() for b in visible_boxes()) == ["First.", "Second.", "Third."]
    close_and_delete(next(b for b in visible_boxes() if b.text() == "Second."))
    prompts.error(None, "Fourth.")
    assert sorted(b.text() for b in visible_boxes()) == ["First.", "Fourth.", "Third."]
    for box in visible_boxes():
        close_and_delete(box)
    assert prompts.open_boxes == []


def test_three_failed_opens_in_the_window_each_show_a_dialog(make_window, qtbot, tmp_path):
    window = make_window(prompts=Prompts())
    for number in range(1, 4):
        bad = tmp_path / f"broken_{number}.png"
        bad.write_bytes(b"not a png at all")
        window.files.open_path(bad)
        qtbot.waitUntil(lambda: len(visible_boxes()) == 1, timeout=10_000)
        box = visible_boxes()[0]
        assert bad.name in box.text()
        assert box.parent() is window
        close_and_delete(box)
