"""What the user sees around a result: Generate opens a new document, Apply leaves nothing stale
(mask tint, status, view), and variation labels are readable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtGui import QFontMetrics

from app.choices import Sides
from tests.app.helpers import (
    ScaleRunner,
    ScriptedPrompts,
    gradient_image,
    qimage_pixels,
    result_color,
)


def run_job(window, qtbot) -> None:
    with qtbot.waitSignal(window.bridge.job_finished, timeout=20_000):
        window.panel.generate_button.click()


def open_photo(window, qtbot, path: Path) -> None:
    window.files.open_path(path)
    qtbot.waitUntil(lambda: window.document.source_path == path, timeout=10_000)


def viewport_centre(window) -> np.ndarray:
    shot = qimage_pixels(window.canvas.viewport().grab().toImage())
    h, w = shot.shape[:2]
    return shot[h // 2 - 20 : h // 2 + 20, w // 2 - 20 : w // 2 + 20, :3].reshape(-1, 3)


def test_generate_shows_the_result_alone_and_apply_opens_it_as_a_new_document(
    make_window, qtbot, tmp_path
):
    prompts = ScriptedPrompts()
    window = make_window(prompts=prompts)
    photo = tmp_path / "photo.png"
    Image.fromarray(gradient_image(400, 300)).save(photo)
    original_bytes = photo.read_bytes()
    open_photo(window, qtbot, photo)
    window.document.fill_rect((10, 10), (60, 60), True)  # an unsaved edit on the photo
    window.panel.set_mode("generate")
    window.panel.samples.setValue(2)
    run_job(window, qtbot)
    seed = window.jobs.results[0].seed

    qtbot.waitUntil(lambda: window.canvas.has_candidate)
    assert not window.variations.compare.isEnabled(), "nothing to compare a new picture with"
    centre = viewport_centre(window)  # the generated picture fills the view, not a corner
    assert (np.abs(centre.astype(int) - result_color(seed)).max(axis=1) <= 2).all()

    prompts.unsaved_answer = "cancel"  # keeping the photo keeps the results too
    window.variations.apply_button.click()
    assert window.document.source_path == photo and window.variations.count == 2

    prompts.unsaved_answer = "discard"
    window.variations.apply_button.click()
    doc = window.document
    assert ("unsaved", "photo.png") in prompts.asked
    assert doc.size == (64, 64)
    np.testing.assert_array_equal(doc.image, window_result(seed))
    assert doc.source_path is None and doc.save_path is None
    assert doc.is_modified and not doc.undo_stack.canUndo(), "a new document, not an edit"
    assert str(seed) in doc.display_name
    assert photo.read_bytes() == original_bytes
    assert window.variations.count == 0 and not window.canvas.has_candidate


def window_result(seed: int) -> np.ndarray:
    """What ScaleRunner generates: a 64 px square in the seed's colour."""
    return np.broadcast_to(result_color(seed), (64, 64, 3))


def test_discarding_a_generated_result_brings_the_photo_back(make_window, qtbot):
    window = make_window()
    window.document.load(gradient_image(400, 300))
    window.canvas.fit()
    zoom = window.canvas.zoom
    window.panel.set_mode("generate")
    run_job(window, qtbot)
    window.variations.discard_button.click()
    assert window.canvas.zoom == zoom
    centre = viewport_centre(window)
    photo_centre = gradient_image(400, 300)[150, 200]
    assert np.abs(centre.mean(axis=0) - photo_centre).max() < 40


def test_apply_clears_the_mask_tint_and_the_pick_one_status(make_window, qtbot):
    window = make_window()
    image = gradient_image(96, 64)
    window.document.load(image)
    window.document.fill_rect((20, 10), (60, 40), True)
    run_job(window, qtbot)
    assert "pick one" in window.strip.status.text()
    window.variations.apply_button.click()
    assert not window.document.mask.any(), "the tint no longer covers the result"
    assert "pick one" not in window.strip.status.text()
    assert "Applied" in window.strip.status.text()
    window.undo_action.trigger()  # one undo brings back both the pixels and the mask
    np.testing.assert_array_equal(window.document.image, image)
    assert window.document.mask[20:40, 30:50].all()


def test_discard_resets_the_pick_one_status(make_window, qtbot):
    window = make_window()
    window.document.load(gradient_image(96, 64))
    window.document.fill_rect((20, 10), (60, 40), True)
    run_job(window, qtbot)
    window.variations.discard_button.click()
    assert "pick one" not in window.strip.status.text()


def test_variation_labels_are_not_cut_off(make_window, qtbot):
    window = make_window()
    window.document.load(gradient_image(96, 64))
    window.document.fill_rect((20, 10), (60, 40), True)
    window.panel.seed_lock.setChecked(True)
    window.panel.seed.setValue(2_000_000_000)
    window.panel.samples.setValue(4)
    run_job(window, qtbot)
    gallery = window.variations.gallery
    metrics = QFontMetrics(gallery.font())
    for row in range(gallery.count()):
        item = gallery.item(row)
        rect = gallery.visualItemRect(item)
        for line in item.text().splitlines():
            assert metrics.horizontalAdvance(line) <= rect.width() - 4, line
        assert str(window.jobs.results[row].seed) in item.text()
    assert gallery.visualItemRect(gallery.item(3)).right() <= gallery.viewport().width()


def test_outpaint_apply_fits_the_view_to_the_new_size(make_window, qtbot):
    prompts = ScriptedPrompts()
    prompts.sides = Sides(left=0, right=400, top=0, bottom=0)
    window = make_window(runner=ScaleRunner(), prompts=prompts)
    window.document.load(gradient_image(400, 300))
    qtbot.wait(20)
    window.canvas.fit()
    window.panel.set_mode("outpaint")
    run_job(window, qtbot)
    window.variations.apply_button.click()
    qtbot.wait(50)
    canvas = window.canvas
    seen = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
    assert seen.left() <= 0 and seen.right() >= 800, seen
    zoom = canvas.zoom
    canvas.fit()
    assert canvas.zoom == zoom, "pressing Fit again changes nothing"


def test_varying_a_generated_result_stays_on_its_stage_and_applies_as_a_new_document(
    make_window, qtbot
):
    window = make_window()
    photo = gradient_image(400, 300)
    window.document.load(photo)
    window.panel.set_mode("generate")
    run_job(window, qtbot)
    with qtbot.waitSignal(window.bridge.job_finished, timeout=20_000):
        window.variations.vary_button.click()
    assert window.canvas.staged and window.canvas.has_candidate
    window.variations.apply_button.click()
    assert window.document.size == (64, 64) and window.document.source_path is None
    assert not window.canvas.staged
