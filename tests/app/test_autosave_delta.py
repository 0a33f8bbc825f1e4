"""The autosave in two files: a base written when the history's bottom changes, small deltas
after each edit, and restores that prove what they give back."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from app.autosave import (
    Autosaver,
    autosave_path,
    base_path,
    read_autosave,
    write_npz_atomically,
)
from app.state.document import Document
from app.state.history import capture, restore
from app.state.mask_paint import Box
from tests.app.helpers import gradient_image

ARRAY_OVERHEAD = 400  # zip entry + .npy header, per array, generously


@pytest.fixture
def editor(qtbot, tmp_path: Path):
    """A real document and its autosaver over a real folder (saves are triggered by hand)."""
    doc = Document()
    saver = Autosaver(doc, tmp_path, delay_ms=600_000)
    yield doc, saver, tmp_path
    saver.wait()


def save(saver: Autosaver) -> None:
    saver.save_now()
    assert saver.wait()


def stroke(doc: Document, x: float, y: float, length: float = 100, radius: float = 12) -> None:
    doc.stroke_begin()
    doc.stroke_paint((x, y), (x + length, y), radius, 1.0, True)
    doc.stroke_end("Brush")


def token(folder: Path) -> str:
    with np.load(base_path(folder)) as data:
        return json.loads(str(data["meta"]))["token"]


def history_bytes(doc: Document) -> tuple[int, int]:
    """Bytes and arrays of every command's before/after parts."""
    arrays = []
    for i in range(doc.undo_stack.count()):
        command = doc.undo_stack.command(i)
        if command.kind == "mask":
            arrays += [command.before, command.after]
        else:
            arrays += [*command.before, *command.after]
    return sum(a.nbytes for a in arrays), len(arrays)


def assert_restores(doc: Document, folder: Path) -> None:
    """What a crash now brings back: exactly these pixels, this mask, this place in the
    history (the kept commands' names and how many can be redone)."""
    recovered = read_autosave(folder)
    assert recovered is not None and recovered.problem is None
    other = Document()
    assert restore(other, recovered.image, recovered.mask, recovered.history, None)
    np.testing.assert_array_equal(other.image, doc.image)
    np.testing.assert_array_equal(other.mask, doc.mask)
    ours, theirs = doc.undo_stack, other.undo_stack
    assert ours.count() - ours.index() == theirs.count() - theirs.index()
    kept = [ours.text(i) for i in range(ours.count() - theirs.count(), ours.count())]
    assert kept == [theirs.text(i) for i in range(theirs.count())]


def test_strokes_and_a_fill_write_the_base_once_then_deltas_the_size_of_the_boxes(editor):
    doc, saver, folder = editor
    image = gradient_image(2000, 1500)
    doc.load(image)
    stroke(doc, 100, 100)
    save(saver)
    first = token(folder)
    assert base_path(folder).stat().st_size >= image.nbytes + doc.mask.nbytes
    assert_restores(doc, folder)

    for i in range(1, 5):
        stroke(doc, 100 + 150 * i, 300 + 200 * i)
        save(saver)
        assert token(folder) == first, "the base is not rewritten for a stroke"
        boxes, arrays = history_bytes(doc)
        delta = autosave_path(folder).stat().st_size
        assert boxes <= delta <= boxes + ARRAY_OVERHEAD * arrays + 4096
        assert delta < image.nbytes / 100

    filled = doc.image.copy()
    filled[600:856, 800:1056] = 9  # an in-paint result pasted in its window
    doc.apply_image(filled, "Apply variation 1", within=Box(800, 600, 1056, 856))
    save(saver)
    assert token(folder) == first
    boxes, arrays = history_bytes(doc)
    delta = autosave_path(folder).stat().st_size
    assert boxes <= delta <= boxes + ARRAY_OVERHEAD * arrays + 4096
    assert delta < image.nbytes / 10
    assert_restores(doc, folder)

    doc.undo_stack.undo()  # the fill on the redo side: still the same base
    save(saver)
    assert token(folder) == first
    assert_restores(doc, folder)


def test_undo_below_the_base_then_a_new_stroke_rewrites_the_base(editor):
    doc, saver, folder = editor
    doc.load(gradient_image(200, 150), modified=True)  # so undoing all still needs a save
    stroke(doc, 10, 20)
    stroke(doc, 10, 60)
    save(saver)
    first = token(folder)
    doc.undo_stack.setIndex(0)
    save(saver)
    assert token(folder) == first, "undoing alone keeps the bottom command"
    assert_restores(doc, folder)

    stroke(doc, 30, 100)  # branches: both strokes are gone, a new oldest command
    save(saver)
    assert token(folder) != first
    assert_restores(doc, folder)


def test_the_budget_trims_to_half_so_the_base_is_rewritten_rarely(qtbot, tmp_path):
    doc = Document()
    doc.load(gradient_image(300, 200))
    stroke(doc, 10, 20)
    per_stroke, _ = history_bytes(doc)
    saver = Autosaver(doc, tmp_path, delay_ms=600_000, budget=4 * per_stroke)
    tokens = []
    for i in range(8):  # same-sized strokes on rows of their own
        if i:
            stroke(doc, 10, 20 + 22 * i)
        save(saver)
        tokens.append(token(tmp_path))
        assert_restores(doc, tmp_path)
    # four fit; the fifth trims to two, the sixth and seventh fit again, the eighth trims
    assert [t == tokens[0] for t in tokens[:5]] == [True] * 4 + [False]
    assert tokens[4] == tokens[5] == tokens[6] != tokens[7]
    assert read_autosave(tmp_path).history.meta["index"] == 2


def test_a_new_document_rewrites_the_base(editor):
    doc, saver, folder = editor
    doc.load(gradient_image(64, 48))
    stroke(doc, 5, 5, length=20, radius=3)
    save(saver)
    first = token(folder)
    generated = np.full((40, 30, 3), 77, np.uint8)
    doc.load(generated, modified=True)  # exists nowhere else: no undo, still to be saved
    save(saver)
    assert token(folder) != first
    recovered = read_autosave(folder)
    assert recovered.problem is None and recovered.history.meta["commands"] == []
    np.testing.assert_array_equal(recovered.image, generated)


def test_no_save_mid_stroke_and_a_save_once_it_ends(editor):
    doc, saver, folder = editor
    doc.load(gradient_image(64, 48))
    doc.stroke_begin()
    doc.stroke_paint((5, 5), (30, 5), 3, 1.0, True)
    save(saver)
    assert not autosave_path(folder).exists(), "those pixels are in no command yet"
    assert saver._timer.isActive(), "a save stays pending"
    doc.stroke_end("Brush")
    save(saver)
    assert_restores(doc, folder)


def test_a_delta_whose_base_is_mismatched_or_missing_is_refused(editor, caplog):
    doc, saver, folder = editor
    image = gradient_image(64, 48)
    doc.load(image)
    stroke(doc, 5, 5, length=20, radius=3)
    save(saver)
    old_delta = autosave_path(folder).read_bytes()
    doc.undo_stack.undo()
    stroke(doc, 5, 30, length=20, radius=3)  # a new base...
    save(saver)
    autosave_path(folder).write_bytes(old_delta)  # ...but the crash came before its delta

    with caplog.at_level(logging.WARNING, logger="app.autosave"):
        recovered = read_autosave(folder)
    assert "not the one of its base" in caplog.text
    assert "earlier state" in recovered.description
    np.testing.assert_array_equal(recovered.image, image)  # the new base: as loaded
    assert not recovered.mask.any()
    other = Document()
    assert not restore(other, recovered.image, recovered.mask, recovered.history, None)
    assert other.undo_stack.count() == 0 and other.is_modified

    base_path(folder).unlink()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="app.autosave"):
        assert read_autosave(folder) is None
    assert "ignoring unreadable autosave" in caplog.text


def test_a_history_that_does_not_replay_onto_its_base_gives_the_base(editor, caplog):
    doc, saver, folder = editor
    image = gradient_image(64, 48)
    doc.load(image)
    stroke(doc, 5, 5, length=20, radius=3)
    save(saver)
    with np.load(autosave_path(folder)) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["h0_after"] = ~arrays["h0_after"]  # damaged, yet a valid file
    write_npz_atomically(autosave_path(folder), **arrays)
    with caplog.at_level(logging.WARNING, logger="app.autosave"):
        recovered = read_autosave(folder)
    assert "does not replay" in caplog.text
    assert recovered.problem and recovered.history.meta["commands"] == []
    np.testing.assert_array_equal(recovered.image, image)
    assert not recovered.mask.any()


def test_a_single_file_autosave_from_before_the_split_restores(qtbot, tmp_path):
    doc = Document()
    doc.load(gradient_image(80, 60))
    stroke(doc, 5, 5, length=30, radius=4)
    filled = doc.image.copy()
    filled[10:30, 20:50] = 200
    doc.apply_image(filled, "Apply variation 1", within=Box(20, 10, 50, 30))
    stroke(doc, 5, 40, length=30, radius=4)
    doc.undo_stack.undo()
    saved = capture(doc).saved
    meta = {"source": "/photos/cat.png", "saved": None, "history": saved.meta}
    write_npz_atomically(  # what the single-file writer put down
        autosave_path(tmp_path),
        image=doc.image,
        mask=doc.mask,
        meta=np.array(json.dumps(meta)),
        **saved.arrays,
    )
    recovered = read_autosave(tmp_path)
    assert recovered.source_path == "/photos/cat.png"
    assert_restores(doc, tmp_path)


def test_a_damaged_base_is_ignored_and_a_clean_exit_deletes_both(editor, caplog):
    doc, saver, folder = editor
    doc.load(gradient_image(64, 48))
    stroke(doc, 5, 5, length=20, radius=3)
    save(saver)
    base = base_path(folder)
    good = base.read_bytes()
    base.write_bytes(good[: len(good) // 2])
    with caplog.at_level(logging.WARNING, logger="app.autosave"):
        assert read_autosave(folder) is None
    assert "ignoring unreadable autosave" in caplog.text

    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 1  # one bit of the image: the zip's CRC-32 refuses it
    base.write_bytes(bytes(flipped))
    assert read_autosave(folder) is None

    base.write_bytes(good)
    assert read_autosave(folder) is not None
    saver.discard()
    assert not autosave_path(folder).exists() and not base.exists()


def test_a_failed_base_write_is_retried_with_the_next_save(qtbot, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    doc = Document()
    saver = Autosaver(doc, folder, delay_ms=600_000)
    doc.load(gradient_image(64, 48))
    stroke(doc, 5, 5, length=20, radius=3)
    folder.rmdir()  # the disk went away
    with qtbot.waitSignal(saver.failed, timeout=5_000):
        saver.save_now()
    assert saver.wait()
    folder.mkdir()
    stroke(doc, 5, 30, length=20, radius=3)
    save(saver)
    assert_restores(doc, folder)
