"""Instruction editing end to end on the tiny VAREdit: any photo size, mask-limited edits."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from engine.api import (
    TERMINAL_EVENTS,
    EditRequest,
    JobFinished,
    ModelChoice,
    Sampling,
    ScaleProgress,
)
from engine.imaging.masks import grow_mask
from engine.runtime.cancel import UserFacingError
from engine.runtime.jobs import Engine


class LoadedOnce:
    """The engine's model cache role, holding the one tiny model these tests use."""

    def __init__(self, model):
        self.model = model

    def get(self, choice, progress=None):
        return self.model


def run(edit_model, request: EditRequest):
    events, done = [], threading.Event()

    def sink(event):
        events.append(event)
        if isinstance(event, TERMINAL_EVENTS):
            done.set()

    engine = Engine(sink=sink, models=LoadedOnce(edit_model))
    try:
        engine.submit(request)
        assert done.wait(300)
    finally:
        engine.shutdown()
    finished = [e for e in events if isinstance(e, JobFinished)]
    assert finished, [e for e in events if not isinstance(e, ScaleProgress)]
    return finished[0].result, events


def photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(2, height // 32), max(2, width // 32), 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def request(image, mask=None, **kwargs) -> EditRequest:
    return EditRequest(
        model=ModelChoice(),
        image=image,
        instruction="change hair color to red",
        mask=mask,
        sampling=Sampling(cfg=3.0, top_k=900, top_p=0.97, tau=1.0, seed=5),
        **kwargs,
    )


def test_a_non_square_photo_comes_back_at_its_size(edit_model):
    image = photo(517, 389)
    result, events = run(edit_model, request(image))
    (variation,) = result.variations
    assert variation.image.shape == (389, 517, 3)
    assert not np.array_equal(variation.image, image)
    progress = [e for e in events if isinstance(e, ScaleProgress)]
    assert [e.scale_index for e in progress] == list(range(7))
    assert all(e.preview is not None and e.preview.ndim == 3 for e in progress)


def test_a_mask_limits_the_edit_bit_exactly(edit_model):
    image = photo(517, 389, seed=1)
    mask = np.zeros((389, 517), bool)
    mask[120:260, 200:330] = True
    result, _ = run(edit_model, request(image, mask, grow_px=6, feather_px=4, samples=2))
    grown = grow_mask(mask, 6)
    for variation in result.variations:
        out = variation.image
        assert out.shape == image.shape
        assert np.array_equal(out[~grown], image[~grown])
        inside = np.abs(out[mask].astype(int) - image[mask].astype(int)).mean()
        assert inside > 2.0
    assert not np.array_equal(result.variations[0].image, result.variations[1].image)


def test_rgba_keeps_its_alpha(edit_model):
    image = np.dstack([photo(200, 300, seed=2), np.full((300, 200), 77, np.uint8)])
    result, _ = run(edit_model, request(image))
    assert result.variations[0].image.shape == (300, 200, 4)
    assert (result.variations[0].image[..., 3] == 77).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"instruction": "  "}, "instruction"),
        ({"mask": np.zeros((10, 10), bool)}, "mask"),
    ],
)
def test_bad_requests_fail_clearly(edit_model, kwargs, message):
    from engine.pipelines.edit import validate

    base = {"model": ModelChoice(), "image": photo(64, 64), "instruction": "x"} | kwargs
    with pytest.raises(UserFacingError, match=message):
        validate(EditRequest(**base))
