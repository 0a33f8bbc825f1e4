"""A second model family plugged into the seam runs the real pipelines with no pipeline code.

``ToyModel`` is a few lines: its "tokenizer" quantises each scale's area-averaged grey levels
into 8 ids, its "sampler" draws ids at random and lets the pipeline's override teacher-force
them. Registered as a family loader, it in-paints, out-paints and varies details through the
real engine, cache and pipelines, with the pixels outside the grown mask bit-exact.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
import torch

from engine.api import (
    TERMINAL_EVENTS,
    InpaintRequest,
    JobFinished,
    ModelChoice,
    OutpaintRequest,
    Sampling,
    ScaleProgress,
)
from engine.imaging.masks import grow_mask
from engine.models.family import Condition, FamilyModel, Sampled
from engine.samplers.hooks import teacher_force
from engine.service import create_engine
from engine.store import loaders

LEVELS = 8
SCHEDULE = ((1, 1), (2, 2), (4, 4), (8, 8))


class ToyModel:
    family = "toy"
    name = "toy"
    device = torch.device("cpu")
    dtype = torch.float32
    resolution = 32
    schedule = SCHEDULE

    def __init__(self) -> None:
        self.codebook = torch.nn.Embedding(
            LEVELS, 1, _weight=torch.arange(float(LEVELS)).view(-1, 1)
        )

    def encode_tokens(self, rgb: np.ndarray) -> list[torch.Tensor]:
        grey = rgb[..., :3].mean(-1).astype(np.float32)
        ids = []
        for h, w in self.schedule:
            small = cv2.resize(grey, (w, h), interpolation=cv2.INTER_AREA)
            ids.append(torch.from_numpy((small * LEVELS / 256).astype(np.int64).reshape(1, -1)))
        return ids

    def teacher_force(self, source, keep):
        return teacher_force(source, keep, self.codebook)

    @torch.inference_mode()
    def sample(self, condition, sampling, seed, *, override=None, on_scale=None, **_):
        generator = torch.Generator().manual_seed(seed)
        fed = []
        for si, (h, w) in enumerate(self.schedule):
            ids = torch.randint(0, LEVELS, (1, h * w), generator=generator)
            codes = self.codebook(ids)
            if override is not None:
                ids, codes = override(si, ids, codes)
            fed.append(ids)
            if on_scale is not None:
                on_scale(si, ids.view(1, h, w).float())
        return Sampled(latent=fed[-1].view(1, *self.schedule[-1]).float(), tokens=fed)

    def decode(self, latent: torch.Tensor) -> np.ndarray:
        grey = (latent[0].numpy() * 256 / LEVELS + 16).clip(0, 255).astype(np.uint8)
        big = cv2.resize(grey, (self.resolution,) * 2, interpolation=cv2.INTER_NEAREST)
        return np.repeat(big[..., None], 3, axis=2)

    def preview(self, latent: torch.Tensor, scale_index: int) -> np.ndarray:
        return self.decode(latent)[::4, ::4]

    def memory_bytes(self) -> int:
        return self.codebook.weight.numel() * 4


@pytest.fixture
def toy_engine(monkeypatch, tmp_path):
    made = []

    def load_toy(files, device, dtype, patch_nums, progress):
        made.append(files)
        return ToyModel()

    monkeypatch.setitem(loaders.FAMILY_LOADERS, "toy", load_toy)
    events = []
    engine = create_engine(sink=events.append)
    weights = tmp_path / "toy.bin"
    weights.write_bytes(b"toy")
    choice = ModelChoice.from_files(family="toy", tokenizer=weights)
    yield engine, events, choice, made
    engine.shutdown()


def run(engine, events, request) -> tuple[JobFinished, list[ScaleProgress]]:
    job_id = engine.submit(request)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ends = [e for e in events if isinstance(e, TERMINAL_EVENTS) and e.job_id == job_id]
        if ends:
            break
        time.sleep(0.02)
    assert ends and isinstance(ends[0], JobFinished), ends
    progress = [e for e in events if isinstance(e, ScaleProgress) and e.job_id == job_id]
    return ends[0], progress


def photo(h: int = 48, w: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 4 % 256, y * 5 % 256, (x + y) * 2 % 256], -1).astype(np.uint8)


def test_the_toy_family_implements_the_protocol():
    assert isinstance(ToyModel(), FamilyModel)


def test_inpainting_through_the_real_pipeline_is_bit_exact_outside_the_mask(toy_engine):
    engine, events, choice, made = toy_engine
    image = photo()
    mask = np.zeros(image.shape[:2], bool)
    mask[10:30, 20:44] = True
    request = InpaintRequest(
        model=choice, image=image, mask=mask, samples=2, grow_px=2, sampling=Sampling(seed=3)
    )
    finished, progress = run(engine, events, request)
    assert made == [{"tokenizer": str(choice.file("tokenizer"))}], "loaded once, by role"
    assert len(finished.result.variations) == 2
    assert [p.scale_index for p in progress] == [0, 1, 2, 3] * 2
    outside = ~grow_mask(mask, 2)
    for variation in finished.result.variations:
        assert np.array_equal(variation.image[outside], image[outside])
        assert not np.array_equal(variation.image[mask], image[mask])
        assert [t.shape for t in variation.tokens] == [(1,), (4,), (16,), (64,)]
    first, second = (v.image for v in finished.result.variations)
    assert not np.array_equal(first, second), "seeds differ per variation"


def test_vary_details_and_outpainting_need_no_family_code(toy_engine):
    engine, events, choice, _ = toy_engine
    image = photo()
    mask = np.zeros(image.shape[:2], bool)
    mask[8:40, 8:56] = True
    base, _ = run(engine, events, InpaintRequest(model=choice, image=image, mask=mask))
    tokens = base.result.variations[0].tokens
    varied, _ = run(
        engine,
        events,
        InpaintRequest(
            model=choice,
            image=image,
            mask=mask,
            keep_scales=2,
            base_tokens=tokens,
            sampling=Sampling(seed=9),
        ),
    )
    again = varied.result.variations[0].tokens
    assert all(np.array_equal(a, b) for a, b in zip(tokens[:2], again[:2], strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(tokens[2:], again[2:], strict=True))
    wider, _ = run(engine, events, OutpaintRequest(model=choice, image=image, right=24, top=8))
    out = wider.result.variations[0].image
    assert out.shape == (56, 88, 3)
    assert np.array_equal(out[8:, :64], image), "the photo itself stays bit-exact"


def test_condition_reaches_the_family_untouched():
    condition = Condition(class_label=None, text="make it winter")
    sampled = ToyModel().sample(condition, Sampling(), 0)
    assert [t.shape[1] for t in sampled.tokens] == [h * w for h, w in SCHEDULE]
