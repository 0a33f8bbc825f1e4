"""Instruction editing end to end on the tiny VAREdit: any photo size, mask-limited edits."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from engine.api import (
    TERMINAL_EVENTS,
    EditRequest,
    JobCancelled,
    JobFailed,
    JobFinished,
    ModelChoice,
    Sampling,
    ScaleProgress,
)
from engine.imaging.masks import grow_mask
from engine.models.infinity.config import SQUARE_SIDES
from engine.runtime.cancel import UserFacingError
from engine.service import create_engine


@pytest.fixture(scope="module")
def engine():
    """The engine as the GUI and CLI get it: real lanes, real model cache."""
    events: list = []
    done = threading.Event()

    def sink(event):
        events.append(event)
        if isinstance(event, TERMINAL_EVENTS):
            done.set()

    engine = create_engine(sink=sink)
    engine.events, engine.done = events, done
    yield engine
    engine.shutdown()


@pytest.fixture(scope="module")
def choice(edit_files) -> ModelChoice:
    return ModelChoice.from_files(family="varedit", patch_nums=SQUARE_SIDES[:7], **edit_files)


def run(engine, request: EditRequest):
    engine.events.clear()
    engine.done.clear()
    engine.submit(request)
    assert engine.done.wait(300)
    events = list(engine.events)
    finished = [e for e in events if isinstance(e, JobFinished)]
    assert finished, [e for e in events if not isinstance(e, ScaleProgress)]
    return finished[0].result, events


def photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(2, height // 32), max(2, width // 32), 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def request(choice, image, mask=None, **kwargs) -> EditRequest:
    return EditRequest(
        model=choice,
        image=image,
        instruction="change hair color to red",
        mask=mask,
        sampling=Sampling(cfg=3.0, top_k=900, top_p=0.97, tau=1.0, seed=5),
        **kwargs,
    )


def test_a_non_square_photo_comes_back_at_its_size(engine, choice):
    image = photo(517, 389)
    result, events = run(engine, request(choice, image))
    (variation,) = result.variations
    assert variation.image.shape == (389, 517, 3)
    assert not np.array_equal(variation.image, image)
    progress = [e for e in events if isinstance(e, ScaleProgress)]
    assert [e.scale_index for e in progress] == list(range(7))
    # Previews show the whole (non-square) photo, at most 512 px a side, padding cut away.
    (shape,) = {e.preview.shape for e in progress}
    assert max(shape[:2]) <= 512 and shape[2] == 3
    assert abs(shape[1] / shape[0] - 517 / 389) < 0.01


def test_a_mask_limits_the_edit_bit_exactly(engine, choice):
    image = photo(517, 389, seed=1)
    mask = np.zeros((389, 517), bool)
    mask[120:260, 200:330] = True
    result, _ = run(engine, request(choice, image, mask, grow_px=6, feather_px=4, samples=2))
    grown = grow_mask(mask, 6)
    for variation in result.variations:
        out = variation.image
        assert out.shape == image.shape
        assert np.array_equal(out[~grown], image[~grown])
        inside = np.abs(out[mask].astype(int) - image[mask].astype(int)).mean()
        assert inside > 2.0
    assert not np.array_equal(result.variations[0].image, result.variations[1].image)


def test_rgba_keeps_its_alpha(engine, choice):
    image = np.dstack([photo(200, 300, seed=2), np.full((300, 200), 77, np.uint8)])
    result, _ = run(engine, request(choice, image))
    assert result.variations[0].image.shape == (300, 200, 4)
    assert (result.variations[0].image[..., 3] == 77).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"instruction": "  "}, "instruction"),
        ({"mask": np.zeros((10, 10), bool)}, "mask"),
    ],
)
def test_bad_requests_fail_clearly(kwargs, message):
    from engine.pipelines.edit import validate

    base = {"model": ModelChoice(), "image": photo(64, 64), "instruction": "x"} | kwargs
    with pytest.raises(UserFacingError, match=message):
        validate(EditRequest(**base))


def test_a_square_photo_at_model_size_is_the_reference_edit(engine, edit_files, source_rgb):
    """No mask, 256 px: the pipeline's output is the reference's uint8 image itself."""
    from PIL import Image

    from tests.engine.infinity.recipes import FIXTURES, PROMPT

    choice = ModelChoice.from_files(family="varedit", patch_nums=SQUARE_SIDES[:7], **edit_files)
    req = EditRequest(
        model=choice,
        image=source_rgb,
        instruction=PROMPT,
        sampling=Sampling(cfg=4.0, top_k=900, top_p=0.97, tau=0.5, seed=42),
    )
    result, _ = run(engine, req)
    golden = np.asarray(Image.open(FIXTURES / "edit_cfg4_tau0.5_seed42_output.png"))
    diff = np.abs(result.variations[0].image.astype(np.int16) - golden.astype(np.int16))
    assert diff.max() <= 1 and diff.any(axis=-1).mean() <= 0.005


def test_a_missing_role_is_a_clear_failure(engine, edit_files, source_rgb):
    files = {k: v for k, v in edit_files.items() if k != "text_encoder"}
    choice = ModelChoice.from_files(family="varedit", **files)
    engine.events.clear()
    engine.done.clear()
    engine.submit(EditRequest(model=choice, image=source_rgb, instruction="x"))
    assert engine.done.wait(60)
    failed = [e for e in engine.events if isinstance(e, JobFailed)]
    assert failed and "text_encoder" in failed[0].message


def test_a_model_that_cannot_edit_is_refused(engine, source_rgb):
    """The demo VAR model has no instruction editing: a clear message, not a crash."""
    engine.events.clear()
    engine.done.clear()
    engine.submit(
        EditRequest(model=ModelChoice(model_id="demo"), image=source_rgb, instruction="x")
    )
    assert engine.done.wait(120)
    failed = [e for e in engine.events if isinstance(e, JobFailed)]
    assert failed and "edit by instruction" in failed[0].message.lower()


def test_cancel_takes_effect_within_a_scale(edit_files, source_rgb):
    choice = ModelChoice.from_files(family="varedit", patch_nums=SQUARE_SIDES[:7], **edit_files)
    events, done = [], threading.Event()
    engine = None

    def sink(event):
        events.append(event)
        if isinstance(event, ScaleProgress) and event.scale_index == 1:
            engine.cancel(event.job_id)
        if isinstance(event, TERMINAL_EVENTS):
            done.set()

    engine = create_engine(sink=sink)
    try:
        engine.submit(EditRequest(model=choice, image=source_rgb, instruction="x", samples=3))
        assert done.wait(120)
    finally:
        engine.shutdown()
    assert isinstance(events[-1], JobCancelled)
    scales = [e.scale_index for e in events if isinstance(e, ScaleProgress)]
    assert scales == [0, 1]


def test_local_grow_and_alpha_equal_the_full_photo_ones():
    from engine.imaging.compositing import context_window
    from engine.imaging.masks import feather_mask, mask_bbox
    from engine.pipelines.edit import grow_near, window_alpha

    rng = np.random.default_rng(7)
    mask = np.zeros((900, 1300), bool)
    mask[300:420, 1100:1290] = rng.random((120, 190)) > 0.3
    grown = grow_near(mask, 9)
    assert np.array_equal(grown, grow_mask(mask, 9))
    window = context_window(mask_bbox(grown), (1300, 900), 256)
    full = feather_mask(grown, 8) * grown
    assert np.array_equal(window_alpha(grown, window, 8), full)
