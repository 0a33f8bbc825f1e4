"""The Batch panel over a real engine: drop a folder, run it, pause, resume, cancel, retry."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from app.batch_queue import DONE, FAILED, QUEUED, RUNNING
from engine.api import BatchRequest, GenerateRequest, ModelChoice
from engine.pipelines import run_request
from tests.app.conftest import FAKE_MODEL
from tests.app.helpers import ScaleRunner, gradient_image
from tests.batch_files import leftovers

COUNT = 6


class Runner:
    """Batch requests run the real batch pipeline; canvas jobs a small ScaleRunner."""

    def __init__(self):
        self.canvas = ScaleRunner(num_scales=3, work_s=0.01)

    def __call__(self, request, ctx):
        if isinstance(request, BatchRequest):
            return run_request(request, ctx)
        return self.canvas(request, ctx)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "shoot"
    (root / "day2").mkdir(parents=True)
    for i in range(COUNT):
        where = root if i % 2 else root / "day2"
        Image.fromarray(gradient_image(160 + i, 120)).save(where / f"p{i}.png")
    (root / "Thumbs.db").write_bytes(b"\x00")
    (root / "broken.jpg").write_text("not a picture")
    return root


def drop(widget, paths, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    actions, buttons = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton
    centre = QPointF(widget.rect().center())
    enter = QDragEnterEvent(centre, actions, mime, buttons, modifiers)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(widget, QDropEvent(centre, actions, mime, buttons, modifiers))


def queued_window(make_window, qtbot, folder, tmp_path, shift=False):
    window = make_window(runner=Runner())
    window.batch_panel.output.setText(str(tmp_path / "out"))
    with qtbot.waitSignal(window.batch.rows_added, timeout=20_000):
        modifier = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
        drop(window if shift else window.batch_panel, [folder], modifier)
    return window


def wait_idle(window, qtbot, timeout=60_000) -> None:
    qtbot.waitUntil(lambda: window.batch.state == "idle", timeout=timeout)


def test_dropped_folder_runs_with_progress_and_the_canvas_stays_responsive(
    make_window, qtbot, folder, tmp_path
):
    window = queued_window(make_window, qtbot, folder, tmp_path)
    rows = window.batch.queue.rows
    assert [row.name for row in rows] == [
        "broken.jpg", "day2/p0.png", "day2/p2.png", "day2/p4.png", "p1.png", "p3.png", "p5.png"
    ]  # fmt: skip
    assert window.batch_panel.table.rowCount() == COUNT + 1
    seen_running: list[tuple[int, float]] = []
    overall: list[str] = []
    window.batch.row_changed.connect(
        lambda i: rows[i].state == RUNNING and seen_running.append((i, rows[i].fraction))
    )
    window.batch.progress_changed.connect(lambda _f, _t, text: overall.append(text))
    stamps: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: stamps.append(time.perf_counter()))
    timer.start()
    try:
        window.batch_panel.start_button.click()
        wait_idle(window, qtbot)
    finally:
        timer.stop()

    gaps = np.diff(stamps[1:])
    assert gaps.max() < 0.050, f"event loop stalled for {gaps.max() * 1000:.0f} ms"
    assert {i for i, _ in seen_running} == set(range(COUNT + 1))
    assert any(fraction == 1.0 for _, fraction in seen_running)  # per-file progress arrived
    assert overall[-1].startswith(f"{COUNT + 1}/{COUNT + 1}") and "1 failed" in overall[-1]
    assert [r.state for r in rows].count(DONE) == COUNT
    broken = rows[0]
    assert broken.state == FAILED and "not an image file" in broken.reason
    out = tmp_path / "out"
    assert (out / "day2" / "p0_x4.png").is_file() and (out / "p1_x4.png").is_file()
    assert Image.open(out / "p1_x4.png").size == (161 * 4, 120 * 4)
    assert window.batch_panel.overall.value() == COUNT + 1

    assert rows[1].after.shape == (128, 128, 3) and rows[1].before.shape == (32, 32, 3)
    window.batch_panel.table.selectRow(1)
    assert not window.batch_panel.after.pixmap().isNull()
    assert not window.batch_panel.before.pixmap().isNull()


def test_a_canvas_job_runs_before_the_next_batch_file(make_window, qtbot, folder, tmp_path):
    window = queued_window(make_window, qtbot, folder, tmp_path)
    log: list[str] = []
    window.bridge.job_started.connect(lambda _id: log.append("canvas"))

    def on_batch_event(event) -> None:
        kind = type(event).__name__
        if kind == "JobStarted":
            log.append("batch")
        running = kind == "BatchItemProgress" and event.state == RUNNING
        if running and "day2/p0.png" in event.source.replace("\\", "/") and "submitted" not in log:
            log.append("submitted")  # batch file 2 is running on the engine now
            window.bridge.submit(GenerateRequest(model=ModelChoice(model_id="test-model")))

    window.bridge.job_event.connect(on_batch_event)
    window.batch_panel.start_button.click()
    wait_idle(window, qtbot)
    assert log[log.index("submitted") + 1] == "canvas", log
    assert log.count("batch") == COUNT + 1


def test_pause_resume_cancel_and_retry(make_window, qtbot, folder, tmp_path):
    window = queued_window(make_window, qtbot, folder, tmp_path, shift=True)
    batch, panel, rows = window.batch, window.batch_panel, window.batch.queue.rows
    assert window.batch_dock.isVisible()

    def pause_on_second(index: int) -> None:
        if index == 1 and rows[1].state == RUNNING and batch.state == "running":
            panel.pause_button.click()

    batch.row_changed.connect(pause_on_second)
    panel.start_button.click()
    qtbot.waitUntil(lambda: batch.state == "paused" and not batch.busy, timeout=20_000)
    batch.row_changed.disconnect(pause_on_second)
    assert panel.pause_button.text() == "Resume"
    assert rows[0].state == FAILED and rows[1].state == QUEUED  # the paused file goes back
    qtbot.wait(300)
    assert [r.state for r in rows[1:]] == [QUEUED] * COUNT  # nothing ran while paused

    def cancel_on_fourth(index: int) -> None:
        if index == 3 and rows[3].state == RUNNING and batch.state == "running":
            panel.cancel_button.click()

    batch.row_changed.connect(cancel_on_fourth)
    panel.pause_button.click()  # Resume
    wait_idle(window, qtbot)
    batch.row_changed.disconnect(cancel_on_fourth)
    assert [r.state for r in rows[:3]] == [FAILED, DONE, DONE]
    qtbot.waitUntil(lambda: not batch.busy, timeout=10_000)
    assert rows[3].state in (QUEUED, DONE)  # cancelled, or finished just before the cancel
    assert all(r.state == QUEUED for r in rows[4:])
    assert leftovers(tmp_path / "out") == []

    panel.start_button.click()
    wait_idle(window, qtbot)
    assert [r.state for r in rows].count(DONE) == COUNT  # the cancelled file was redone
    (folder / "broken.jpg").unlink()
    Image.fromarray(gradient_image(40, 30)).save(folder / "broken.jpg", format="JPEG")
    panel.retry_button.click()
    wait_idle(window, qtbot)
    assert all(r.state == DONE for r in rows)


def test_the_batch_dock_opens_from_the_menu_and_the_upscale_mode(make_window, qtbot):
    window = make_window(runner=Runner(), models=[])
    window.batch_dock.hide()
    job_menu = next(a.menu() for a in window.menuBar().actions() if "Job" in a.text())
    next(a for a in job_menu.actions() if "Batch" in a.text()).trigger()
    assert window.batch_dock.isVisible()
    window.batch_dock.hide()
    window.panel.mode_changed.emit("upscale")
    assert window.batch_dock.isVisible()
    upscale_row = window.panel.mode_combo.findData("upscale")
    tip = window.panel.mode_combo.model().item(upscale_row).toolTip()
    assert "Batch panel" in tip  # no model can upscale: the tooltip says where batches are
    assert window.batch_panel.upscaler.count() == 1  # no models: fast only
    window.panel.set_models([FAKE_MODEL])
    window.batch_panel.set_models(window.panel.models)
    assert window.batch_panel.upscaler.itemData(1) == FAKE_MODEL.choice
