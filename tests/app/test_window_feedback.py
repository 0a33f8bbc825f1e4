"""Feedback a user needs from the window: a busy indicator while a big file opens (and a GUI
that keeps running meanwhile), a drop highlight while a file is dragged over, a brush sized to
the view."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from app.widgets.canvas import BRUSH_SCREEN_PX
from app.widgets.canvas_paint import DROP_COLOR
from tests.app.helpers import gradient_image, qimage_pixels


def big_photo(path: Path, width: int, height: int) -> Path:
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x % 256, y % 256, (x // 7 + y // 5) % 256], axis=-1).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=92)
    return path


def test_opening_shows_a_busy_indicator_and_the_gui_keeps_running(make_window, qtbot, tmp_path):
    """The GUI thread's own CPU time is measured (not wall-clock gaps, which a loaded machine
    stretches): decoding and converting 24 MP happen on the loader thread."""
    window = make_window()
    photo = big_photo(tmp_path / "big.jpg", 6000, 4000)
    cpu_before = time.thread_time()
    window.open_path(photo)
    assert window.busy_bar.isVisible(), "busy from the moment the open starts"
    assert "Opening big.jpg" in window.busy_label.text()
    assert QApplication.overrideCursor().shape() == Qt.CursorShape.BusyCursor
    qtbot.waitUntil(lambda: window.document.size == (6000, 4000), timeout=30_000)
    qtbot.wait(100)  # the first paint of the new picture
    gui_cpu = time.thread_time() - cpu_before
    assert not window.busy_bar.isVisible()
    assert QApplication.overrideCursor() is None
    assert gui_cpu < 0.1, f"the GUI thread worked {gui_cpu * 1000:.0f} ms to open 24 MP"


def test_saving_shows_the_busy_indicator_too(make_window, qtbot, tmp_path):
    window = make_window()
    window.document.load(gradient_image(400, 300))
    window.prompts.save_answer = str(tmp_path / "out.png")
    window.files.save_as()
    assert window.busy_bar.isVisible() and "Saving out.png" in window.busy_label.text()
    qtbot.waitUntil(lambda: not window.busy_bar.isVisible(), timeout=10_000)
    assert (tmp_path / "out.png").is_file()


# PySide6 flags the only QDragEnterEvent constructor Qt 6 has as deprecated.
pytestmark = pytest.mark.filterwarnings("ignore:Function.*QDragEnterEvent:DeprecationWarning")


def drag_event(kind, window, paths: list[Path]):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = QPoint(window.width() // 2, window.height() // 2)
    actions = Qt.DropAction.CopyAction
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    return kind(centre, actions, mime, buttons, mods), mime  # keep mime alive with the event


def border_has_highlight(window) -> bool:
    shot = qimage_pixels(window.canvas.viewport().grab().toImage())[..., :3].astype(int)
    colour = np.array([DROP_COLOR.red(), DROP_COLOR.green(), DROP_COLOR.blue()])
    edge = shot[4, shot.shape[1] // 4 : 3 * shot.shape[1] // 4]
    return bool((np.abs(edge - colour).max(axis=1) <= 30).mean() > 0.9)


def test_a_dragged_image_highlights_the_window_until_it_leaves_or_drops(
    make_window, qtbot, tmp_path
):
    window = make_window()
    photo = tmp_path / "photo.png"
    Image.fromarray(gradient_image(120, 80)).save(photo)
    assert not border_has_highlight(window)

    enter, _mime = drag_event(QDragEnterEvent, window, [photo])
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    assert window.canvas.drop_name == "photo.png"
    assert border_has_highlight(window)
    QApplication.sendEvent(window, QDragLeaveEvent())
    assert window.canvas.drop_name is None and not border_has_highlight(window)

    enter, _mime = drag_event(QDragEnterEvent, window, [photo])
    QApplication.sendEvent(window, enter)
    drop, _mime2 = drag_event(QDropEvent, window, [photo])
    QApplication.sendEvent(window, drop)
    assert window.canvas.drop_name is None
    qtbot.waitUntil(lambda: window.document.source_path == photo, timeout=10_000)


def test_a_dragged_non_image_is_refused_without_highlight(make_window, tmp_path):
    window = make_window()
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    enter, _mime = drag_event(QDragEnterEvent, window, [text])
    QApplication.sendEvent(window, enter)
    assert not enter.isAccepted()
    assert window.canvas.drop_name is None


def test_the_brush_is_sized_to_the_view_when_an_image_opens(make_window, qtbot, tmp_path):
    window = make_window()
    photo = big_photo(tmp_path / "photo.jpg", 4000, 3000)
    window.open_path(photo)
    qtbot.waitUntil(lambda: window.document.size == (4000, 3000), timeout=30_000)
    canvas, tools = window.canvas, window.tools
    qtbot.waitUntil(lambda: canvas.fit_mode)
    on_screen = tools.size * canvas.zoom
    assert abs(on_screen - BRUSH_SCREEN_PX) <= 2, on_screen
    assert tools.size > 100, "a 12 MP photo needs a brush far above 40 image pixels"

    window.document.load(gradient_image(96, 64))  # a small picture: zoomed in, small brush
    qtbot.waitUntil(lambda: tools.size < 40)
    assert canvas.zoom > 4, "a small picture is fitted zoomed in"
    assert tools.size == round(BRUSH_SCREEN_PX / canvas.zoom)


def tinted(window, x: float, y: float) -> bool:
    """Whether the canvas shows the mask tint over image pixel (x, y)."""
    canvas = window.canvas
    point = canvas.mapFromScene(x, y)
    shot = qimage_pixels(canvas.viewport().grab().toImage())
    r, g, b = shot[point.y(), point.x(), :3].astype(int)
    return r > g + 60 and r > b + 40  # the pink-red tint over a grey photo


def test_the_mask_overlay_costs_only_the_tiles_that_are_painted(make_window, qtbot):
    window = make_window()
    doc, canvas = window.document, window.canvas
    doc.load(np.full((3000, 4000, 3), 128, np.uint8))
    qtbot.waitUntil(lambda: canvas.fit_mode)
    overlay = canvas._mask_item
    assert overlay.tile_count == 0, "a fresh document has no overlay pixels at all"

    doc.stroke_begin()
    doc.stroke_paint((3900.0, 2900.0), (3950.0, 2950.0), 60.0, 1.0, True)  # the last tile
    doc.stroke_end("Brush stroke")
    assert overlay.tile_count == 1
    assert tinted(window, 3925, 2925) and not tinted(window, 2000, 1500)

    doc.fill_rect((100, 100), (1400, 200), True)  # crosses three tile columns
    assert overlay.tile_count == 4
    assert tinted(window, 700, 150) and tinted(window, 1300, 150)

    window.undo_action.trigger()  # undo restores the box: its tiles are cleared, not dropped
    assert not tinted(window, 700, 150)
    cpu_before = time.thread_time()
    doc.invert_mask()  # a whole-mask edit rebuilds every tile that has pixels
    invert_cpu = time.thread_time() - cpu_before
    assert overlay.tile_count == 48  # ceil(4000 / 512) * ceil(3000 / 512)
    assert invert_cpu < 0.5, f"tinting 12 MP took {invert_cpu * 1000:.0f} ms"  # was ~2 s
    assert tinted(window, 2000, 1500) and not tinted(window, 3925, 2925)
