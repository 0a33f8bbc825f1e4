"""Mask tools on the real canvas: simulated mouse gestures, undo/redo, zoom and overlay."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from app.state.mask_paint import Box, fill_polygon, paint_segment
from tests.app.helpers import gradient_image


@pytest.fixture
def window(make_window):
    win = make_window()
    win.document.load(gradient_image(120, 80))
    win.canvas.fit()
    return win


def viewport_point(canvas, x: float, y: float) -> QPoint:
    return canvas.mapFromScene(QPointF(x, y))


def drag(canvas, points: list[tuple[float, float]], modifier=Qt.KeyboardModifier.NoModifier):
    viewport = canvas.viewport()
    first = viewport_point(canvas, *points[0])
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, modifier, first)
    for x, y in points[1:]:
        QTest.mouseMove(viewport, viewport_point(canvas, x, y))
    last = viewport_point(canvas, *points[-1])
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, modifier, last)


def test_brush_stroke_sets_mask_under_path_and_undo_redo_restore(window):
    doc, canvas = window.document, window.canvas
    window.tools.set_size(8)
    drag(canvas, [(20 + 6 * i, 40) for i in range(11)])  # 20 -> 80 along y = 40

    assert doc.mask[40, 20:81].all(), "every pixel under the path is painted"
    assert doc.mask[37:43, 30].all() and not doc.mask[46:, :].any()
    assert not doc.mask[:, :14].any() and not doc.mask[:, 86:].any()
    assert doc.undo_stack.count() == 1, "one stroke is one undo step"
    painted = doc.mask.copy()

    window.undo_action.trigger()
    assert not doc.mask.any()
    window.redo_action.trigger()
    np.testing.assert_array_equal(doc.mask, painted)
    assert doc.is_modified


def test_undo_record_holds_only_the_changed_box(window):
    doc = window.document
    window.tools.set_size(6)
    drag(window.canvas, [(10, 10), (20, 12)])
    command = doc.undo_stack.command(0)
    box: Box = command.box
    assert box.width <= 20 + 6 and box.height <= 12, box
    assert command.before.shape == (box.height, box.width)


def test_eraser_rectangle_lasso_invert_clear(window):
    doc, tools = window.document, window.tools
    tools.set_tool("rect")
    drag(window.canvas, [(10, 10), (50, 40)])
    assert doc.mask[10:40, 10:50].all() and doc.mask.sum() == 40 * 30

    tools.set_tool("eraser")
    tools.set_size(6)
    drag(window.canvas, [(30, 25), (31, 25)])
    assert not doc.mask[25, 30] and doc.mask[12, 12]

    tools.set_tool("lasso")
    drag(window.canvas, [(70, 10), (110, 10), (110, 60), (70, 60)])
    assert doc.mask[30, 90] and not doc.mask[5, 90]

    tools.set_tool("rect")
    drag(window.canvas, [(80, 20), (100, 40)], Qt.KeyboardModifier.AltModifier)
    assert not doc.mask[30, 90], "Alt subtracts"

    before = doc.mask.copy()
    window.tool_bar.invert.trigger()
    np.testing.assert_array_equal(doc.mask, ~before)
    window.tool_bar.clear.trigger()
    assert not doc.mask.any()
    for _ in range(6):
        doc.undo_stack.undo()
    assert not doc.mask.any()


def test_bracket_keys_resize_brush_and_tool_shortcuts(window, qtbot):
    tools = window.tools
    tools.set_size(40)
    window.canvas.setFocus()
    QTest.keyClick(window.canvas, Qt.Key.Key_BracketRight)
    assert tools.size == 48
    QTest.keyClick(window.canvas, Qt.Key.Key_BracketLeft)
    assert tools.size == 40
    QTest.keyClick(window.canvas, Qt.Key.Key_E)
    assert tools.tool == "eraser"
    assert window.tool_bar.size_spin.value() == 40


def test_zoom_fit_and_actual_size(window):
    canvas = window.canvas
    canvas.actual_size()
    assert canvas.zoom_percent == pytest.approx(100.0)
    canvas.zoom_in()
    assert canvas.zoom_percent == pytest.approx(125.0)
    canvas.zoom_out()
    canvas.fit()
    rect = canvas.mapFromScene(0, 0, 120, 80).boundingRect()
    assert canvas.viewport().rect().contains(rect)


def test_space_drag_pans_without_painting(window, qtbot):
    canvas = window.canvas
    canvas.set_zoom(8)
    canvas.centerOn(60, 40)
    canvas.setFocus()
    before = canvas.map_to_image(QPointF(100, 100))
    QTest.keyPress(canvas, Qt.Key.Key_Space)
    drag(canvas, [(55, 40), (60, 40)])
    QTest.keyRelease(canvas, Qt.Key.Key_Space)
    after = canvas.map_to_image(QPointF(100, 100))
    assert not window.document.mask.any()
    assert after.x() < before.x() - 3, "the view moved with the drag"


def test_grow_feather_preview_covers_more_than_the_mask(window):
    doc, tools = window.document, window.tools
    tools.set_tool("rect")
    drag(window.canvas, [(40, 30), (60, 50)])
    tools.set_grow_feather(6, 3)
    tools.set_show_grow(True)
    alpha = window.canvas.grow_preview_alpha()
    assert (alpha > 0).sum() > doc.mask.sum()
    assert alpha[40, 50] == pytest.approx(1.0)
    assert alpha[0, 0] == 0


def test_mask_paint_soft_brush_dithers_edge():
    hard = np.zeros((64, 64), bool)
    soft = np.zeros((64, 64), bool)
    paint_segment(hard, (32, 32), (32, 32), 16, hardness=1.0)
    paint_segment(soft, (32, 32), (32, 32), 16, hardness=0.0)
    assert hard.sum() == pytest.approx(np.pi * 16**2, rel=0.05)
    assert soft[32, 32] and soft.sum() < hard.sum()
    assert not (soft & ~hard).any(), "a soft brush never reaches past its radius"


def test_fill_polygon_matches_pixel_centres():
    mask = np.zeros((20, 20), bool)
    box = fill_polygon(mask, [(2, 2), (10, 2), (10, 8), (2, 8)])
    assert box is not None
    assert mask[2:8, 2:10].all() and mask.sum() == 48
