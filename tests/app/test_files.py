"""Opening, dropping, saving and closing: originals are never overwritten silently."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from app.choices import ExportChoice
from tests.app.helpers import ScriptedPrompts, gradient_image


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    Image.fromarray(gradient_image(80, 60)).save(path)
    return path


def open_and_wait(window, qtbot, path: Path) -> None:
    with qtbot.waitSignal(window.files.document_opened, timeout=10_000):
        window.files.open_path(path)


def drop(window, path: Path) -> QDropEvent:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    actions = Qt.DropAction.CopyAction
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(QPointF(window.rect().center()), actions, mime, buttons, mods)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(window.rect().center()), actions, mime, buttons, mods)
    QApplication.sendEvent(window, event)
    return event


def test_dropping_an_image_file_opens_it(make_window, qtbot, photo):
    window = make_window()
    with qtbot.waitSignal(window.files.document_opened, timeout=10_000):
        event = drop(window, photo)
    assert event.isAccepted()
    assert window.document.size == (80, 60)
    np.testing.assert_array_equal(window.document.image, gradient_image(80, 60))
    assert window.document.source_path == photo
    assert "photo.png" in window.windowTitle()
    assert window.settings.recent_files()[0] == str(photo.resolve())


def test_dropping_a_non_image_is_refused(make_window, tmp_path):
    window = make_window()
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(text))])
    enter = QDragEnterEvent(
        QPointF(window.rect().center()),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, enter)
    assert not enter.isAccepted()


def test_unreadable_file_gives_a_plain_error(make_window, qtbot, tmp_path):
    prompts = ScriptedPrompts()
    window = make_window(prompts=prompts)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png at all")
    with qtbot.waitSignal(window.files.io.failed, timeout=10_000):
        window.files.open_path(broken)
    ((message, _detail),) = prompts.errors
    assert "broken.png" in message and "Traceback" not in message
    assert not window.document.has_image


def test_save_on_an_opened_file_suggests_a_new_name_and_keeps_the_original(
    make_window, qtbot, photo
):
    prompts = ScriptedPrompts()
    window = make_window(prompts=prompts)
    open_and_wait(window, qtbot, photo)
    original = photo.read_bytes()
    window.document.fill_rect((5, 5), (20, 20), True)
    window.document.apply_image(np.zeros((60, 80, 3), np.uint8), "Apply")

    prompts.save_answer = None  # the user cancels Save As
    window.save_action.trigger()
    assert prompts.asked[-1] == ("save_path", str(photo.with_name("photo_edited.png")))
    assert photo.read_bytes() == original

    prompts.save_answer = str(photo)  # picks the original itself: must confirm, says no
    prompts.overwrite_answer = False
    window.save_action.trigger()
    assert prompts.asked[-1][0] == "overwrite"
    assert photo.read_bytes() == original

    target = photo.with_name("photo_edited.png")
    prompts.save_answer = str(target)
    with qtbot.waitSignal(window.files.io.saved, timeout=10_000):
        window.save_action.trigger()
    qtbot.waitUntil(lambda: not window.document.is_modified, timeout=5_000)
    assert photo.read_bytes() == original
    assert np.asarray(Image.open(target)).max() == 0
    assert window.document.save_path == target

    asked = len(prompts.asked)  # a second Save writes to our own file without asking
    window.document.fill_rect((30, 30), (40, 40), True)
    with qtbot.waitSignal(window.files.io.saved, timeout=10_000):
        window.save_action.trigger()
    assert len(prompts.asked) == asked


def test_export_writes_jpeg_with_quality_and_keeps_document_state(make_window, qtbot, photo):
    prompts = ScriptedPrompts()
    window = make_window(prompts=prompts)
    open_and_wait(window, qtbot, photo)
    window.document.apply_image(gradient_image(80, 60)[::-1].copy(), "Apply")
    target = photo.with_name("out.jpg")
    prompts.export_answer = ExportChoice(str(target), 80)
    with qtbot.waitSignal(window.files.io.saved, timeout=10_000):
        window.files.export()
    assert Image.open(target).format == "JPEG"
    assert window.document.is_modified, "export is not a save of the document"


def test_close_with_unsaved_changes_asks_and_cancel_keeps_the_window(make_window, qtbot, photo):
    prompts = ScriptedPrompts()
    window = make_window(prompts=prompts)
    open_and_wait(window, qtbot, photo)
    window.document.fill_rect((5, 5), (20, 20), True)
    prompts.unsaved_answer = "cancel"
    assert not window.close()
    assert window.isVisible()
    assert prompts.asked[-1] == ("unsaved", "photo.png")
    prompts.unsaved_answer = "discard"
    assert window.close()


def test_close_with_save_writes_before_closing(make_window, qtbot, photo):
    prompts = ScriptedPrompts()
    window = make_window(prompts=prompts)
    open_and_wait(window, qtbot, photo)
    window.document.apply_image(np.zeros((60, 80, 3), np.uint8), "Apply")
    target = photo.with_name("photo_edited.png")
    prompts.unsaved_answer = "save"
    prompts.save_answer = str(target)
    assert window.close()
    assert target.is_file() and np.asarray(Image.open(target)).max() == 0


def test_mask_round_trips_through_png(make_window, qtbot, photo, tmp_path):
    prompts = ScriptedPrompts()
    window = make_window(prompts=prompts)
    open_and_wait(window, qtbot, photo)
    window.document.fill_rect((5, 5), (30, 20), True)
    saved_mask = window.document.mask.copy()
    prompts.save_answer = str(tmp_path / "mask.png")
    window.files.save_mask()
    window.document.clear_mask()
    prompts.open_answer = str(tmp_path / "mask.png")
    window.files.load_mask()
    np.testing.assert_array_equal(window.document.mask, saved_mask)
    window.undo_action.trigger()
    assert not window.document.mask.any()


def test_file_menu_opens_the_bundled_sample_photo(make_window, qtbot):
    window = make_window()
    action = next(a for a in window.menuBar().actions() if a.text() == "&File")
    sample = next(a for a in action.menu().actions() if a.text() == "Open Sample &Photo")
    with qtbot.waitSignal(window.files.document_opened, timeout=10_000):
        sample.trigger()
    assert window.document.size == (451, 300)
    assert window.document.image.std() > 20


def test_saving_removes_what_a_killed_session_left_in_that_folder(make_window, qtbot, photo):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid is free: the process that wrote this temporary is gone
    stale = photo.with_name(f".photo_edited.png.{dead.pid}-0123abcd.part")
    stale.write_bytes(b"half a png")
    prompts = ScriptedPrompts()
    window = make_window(prompts=prompts)
    open_and_wait(window, qtbot, photo)
    window.document.fill_rect((5, 5), (20, 20), True)
    prompts.save_answer = str(photo.with_name("photo_edited.png"))
    with qtbot.waitSignal(window.files.io.saved, timeout=10_000):
        window.save_action.trigger()
    assert not stale.exists()
    assert photo.with_name("photo_edited.png").is_file()
