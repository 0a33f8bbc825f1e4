"""``python -m app --screenshot FILE.png``: the window with demo content, rendered headless.

Everything shown is drawn here procedurally (a lake at sunset, a painted mask, the scale strip
of a finished job and its variations), so the screenshot needs no model and no files. It goes
through the same widgets the app uses; only the job itself is simulated.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QCoreApplication

from app.engine_access import ModelChoice, ModelEntry, load_image
from app.engine_bridge import EngineBridge
from app.imaging import to_pixmap
from app.main_window import MainWindow

PATCH_NUMS = (1, 2, 3, 4, 5, 6, 8, 10, 13, 16)  # VAR-d16's scale schedule


def _smooth_noise(length: int, rng: np.random.Generator, waves: int = 6) -> np.ndarray:
    x = np.linspace(0, 1, length)
    out = np.zeros(length)
    for k in range(1, waves + 1):
        out += np.sin(2 * np.pi * (k * 1.7 * x + rng.random())) / k
    return out / 2


def demo_image(width: int = 768, height: int = 512, seed: int = 7) -> np.ndarray:
    """A lake at sunset: sky gradient, sun, two mountain ridges, a reflecting lake."""
    rng = np.random.default_rng(seed)
    horizon = int(height * 0.62)
    t = (np.arange(height, dtype=np.float32) / horizon).clip(0, 1)[:, None, None]
    top, glow = np.array([52, 92, 168], np.float32), np.array([250, 186, 140], np.float32)
    image = np.broadcast_to(top * (1 - t) + glow * t, (height, width, 3)).copy()
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    sun_d = np.hypot(xx - width * 0.68, yy - horizon * 0.78)
    image += (np.exp(-((sun_d / 120) ** 2)) * 60)[..., None] * np.array([1.0, 0.8, 0.5])
    image[sun_d < 34] = (255, 236, 200)
    for base, amp, color in ((0.70, 0.16, (96, 92, 128)), (0.84, 0.12, (46, 66, 70))):
        ridge = horizon * (base - amp * _smooth_noise(width, rng))
        image[(yy >= ridge[None, :]) & (yy < horizon)] = color
    sky = image[:horizon][::-1]
    lake_h = height - horizon
    reflection = sky[:lake_h] if sky.shape[0] >= lake_h else np.resize(sky, (lake_h, width, 3))
    ripple = 0.96 + 0.04 * np.sin(yy[horizon:] * 0.7 + 2 * np.sin(xx[horizon:] * 0.03))[..., None]
    image[horizon:] = reflection * 0.72 * ripple + np.array([10, 22, 40]) * 0.28
    return np.clip(image, 0, 255).astype(np.uint8)


def with_boat(image: np.ndarray, center: tuple[int, int], sail: tuple[int, int, int]) -> np.ndarray:
    """A small sailboat drawn in, standing in for a generated variation."""
    out = image.copy()
    x, y = center
    hull = np.array([[x - 46, y], [x + 46, y], [x + 30, y + 16], [x - 30, y + 16]], np.int32)
    main_sail = np.array([[x, y - 90], [x, y - 4], [x + 44, y - 4]], np.int32)
    jib = np.array([[x - 4, y - 80], [x - 4, y - 4], [x - 36, y - 4]], np.int32)
    cv2.fillPoly(out, [hull], (60, 40, 34), cv2.LINE_AA)
    cv2.fillPoly(out, [main_sail], sail, cv2.LINE_AA)
    cv2.fillPoly(out, [jib], tuple(int(c * 0.85) for c in sail), cv2.LINE_AA)
    cv2.line(out, (x, y - 94), (x, y), (50, 40, 40), 2, cv2.LINE_AA)
    reflection = out[y - 94 : y, x - 48 : x + 48][::-1].astype(np.float32)
    below = out[y + 16 : y + 16 + reflection.shape[0], x - 48 : x + 48].astype(np.float32)
    n = below.shape[0]
    out[y + 16 : y + 16 + n, x - 48 : x + 48] = (0.65 * below + 0.35 * reflection[:n]).astype(
        np.uint8
    )
    return out


def scale_previews(result: np.ndarray) -> list[np.ndarray]:
    """What the strip shows: the result seen at each scale of the schedule, coarse to fine."""
    h, w = result.shape[:2]
    previews = []
    for pn in PATCH_NUMS:
        small = cv2.resize(result, (max(1, pn * w // h), pn), interpolation=cv2.INTER_AREA)
        previews.append(cv2.resize(small, (96, 64), interpolation=cv2.INTER_NEAREST))
    return previews


def populate(window: MainWindow, image: np.ndarray | None = None) -> None:
    """Load the demo picture, paint a mask and fill the strip and the gallery."""
    picture = demo_image() if image is None else image
    doc = window.document
    doc.load(picture, Path("lake_at_sunset.png"))
    h, w = picture.shape[:2]
    boat = (int(w * 0.34), int(h * 0.76))
    window.tools.set_size(44)
    doc.stroke_begin()
    angles = np.linspace(0, 5 * np.pi, 60)  # a loose hand-painted spiral over the boat's area
    radii = np.linspace(8, 62, angles.size)
    points = [
        (boat[0] + r * np.cos(a), boat[1] - 38 + 1.3 * r * np.sin(a))
        for a, r in zip(angles, radii, strict=True)
    ]
    for p0, p1 in zip(points, points[1:], strict=False):
        doc.stroke_paint(p0, p1, 22, 1.0, True)
    doc.stroke_end("Brush stroke")
    window.panel.instruction.setText("schooner")
    window.panel.class_picker.set_class_label(780)
    window.panel.seed.setValue(48213)
    window.panel.samples.setValue(3)

    sails = ((244, 242, 236), (232, 122, 60), (200, 52, 48))
    results = [with_boat(picture, boat, sail) for sail in sails]
    strip = window.strip
    strip.start("Fill mask…")
    previews = scale_previews(results[0])
    for index, preview in enumerate(previews):
        strip.progress(0, 1, index, len(previews), to_pixmap(preview))
    strip.finish("3 variations ready — pick one, then Apply.", elapsed_s=4.2)
    thumbs = [to_pixmap(r[:: max(1, w // 192), :: max(1, w // 192)]) for r in results]
    window.variations.set_variations(thumbs, [48213, 48214, 48215], len(PATCH_NUMS), True)
    window.tool_bar.opacity.setValue(55)


def render_screenshot(bridge: EngineBridge, path: str, image_path: str | None = None) -> int:
    model = ModelEntry("VAR-d16 · 256 px", ModelChoice(model_id="var-d16"))
    window = MainWindow(bridge, models=[model])
    window.resize(1440, 900)
    image = None
    if image_path:
        image = np.ascontiguousarray(load_image(image_path).pixels[..., :3])
    populate(window, image)
    window.show()
    for _ in range(5):
        QCoreApplication.processEvents()
    window.canvas.fit()
    window.show_message("Painted the mask — press Fill mask or Enter to generate.")
    QCoreApplication.processEvents()
    ok = window.grab().save(str(path))
    window.document.undo_stack.setClean()  # nothing to ask about when closing
    window.close()
    print(f"screenshot {'saved to' if ok else 'FAILED:'} {path}")
    return 0 if ok else 1
