"""``python -m app --screenshot FILE.png``: a real in-paint by the shipped demo model, headless.

The window opens the sample photo (or ``IMAGE``), a brush stroke paints a mask over a
distracting object, and Fill runs through the real engine exactly as a click would. The shot
is taken once the job has finished: the scale strip, the variations and the canvas all show
what the model really produced. Nothing in it is drawn by hand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

from app.engine_access import UserFacingError, installed_models, load_image, sample_photo
from app.engine_bridge import EngineBridge
from app.main_window import MainWindow

JOB_TIMEOUT_MS = 300_000
SEED = 20261124
SAMPLES = 3


def brush_path(width: int, height: int) -> list[tuple[float, float]]:
    """A loose vertical zig-zag over the out-of-focus objects at the sample photo's right."""
    xs = (0.86, 0.93, 0.84, 0.94, 0.86, 0.92)
    ys = np.linspace(0.22, 0.62, len(xs))
    return [(x * width, y * height) for x, y in zip(xs, ys, strict=True)]


def paint_mask(window: MainWindow, radius: float) -> None:
    doc = window.document
    width, height = doc.size
    points = brush_path(width, height)
    doc.stroke_begin()
    for p0, p1 in zip(points, points[1:], strict=False):
        doc.stroke_paint(p0, p1, radius, 1.0, True)
    doc.stroke_end("Brush stroke")


def wait_for_job(window: MainWindow) -> str | None:
    """Run the event loop until the job ends; returns an error message, or None on success."""
    loop = QEventLoop()
    outcome: list[str | None] = []

    def finished(_event) -> None:
        outcome.append(None)
        loop.quit()

    def failed(message: str, _detail: str) -> None:
        outcome.append(message)
        loop.quit()

    bridge = window.bridge
    bridge.job_finished.connect(finished)
    bridge.job_failed.connect(failed)
    QTimer.singleShot(JOB_TIMEOUT_MS, loop.quit)
    window.panel.generate_button.click()
    if not outcome:
        loop.exec()
    return outcome[0] if outcome else "the job did not finish in time"


def staged_window(bridge: EngineBridge, image_path: str | None = None) -> MainWindow:
    """The shown window after a finished demo in-paint; UserFacingError if that cannot run."""
    models = installed_models()
    demo = next((entry for entry in models if entry.demo), None)
    if demo is None:
        raise UserFacingError("The demo model is not installed (resources/models/demo/).")
    window = MainWindow(bridge, models=models)
    window.resize(1440, 900)
    source = Path(image_path) if image_path else sample_photo()
    window.document.load(load_image(source).pixels, source)
    window.show()
    QCoreApplication.processEvents()
    window.canvas.fit()

    panel = window.panel
    panel.model_combo.setCurrentIndex(models.index(demo))
    panel.set_mode("inpaint")
    panel.samples.setValue(SAMPLES)
    panel.seed.setValue(SEED)
    panel.seed_lock.setChecked(True)
    paint_mask(window, radius=max(window.document.size) * 0.045)
    window.tool_bar.opacity.setValue(45)
    error = wait_for_job(window)
    if error:
        window.close()
        raise UserFacingError(error)
    window.variations.select(0)
    for _ in range(5):
        QCoreApplication.processEvents()
    return window


def render_screenshot(bridge: EngineBridge, path: str, image_path: str | None = None) -> int:
    try:
        window = staged_window(bridge, image_path)
    except UserFacingError as exc:
        print(f"screenshot FAILED: {exc}")
        return 1
    ok = window.grab().save(str(path))
    window.document.undo_stack.setClean()  # nothing to ask about when closing
    window.close()
    print(f"screenshot {'saved to' if ok else 'FAILED:'} {path}")
    return 0 if ok else 1
