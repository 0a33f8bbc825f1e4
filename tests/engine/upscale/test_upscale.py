"""The upscale pipeline on the shipped demo model: zero-shot SR end to end on the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.api import ModelChoice, UpscaleRequest
from engine.imaging.tiles import TileLayout, seam_energy
from engine.pipelines.upscale import cache_provider, default_fidelity, plan_request, run_upscale
from engine.runtime.cancel import UserFacingError
from engine.store.cache import ModelCache

DEMO = ModelChoice(model_id="demo")


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / max(mse, 1e-12)))


def _bicubic(rgb: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).resize(size_wh, Image.BICUBIC))


@pytest.fixture(scope="module")
def two_by_two(demo_cache, photo):
    """112x112 -> 224x224: four 128-px windows overlapping by 32."""
    request = UpscaleRequest(
        image=np.ascontiguousarray(photo[40:152, 120:232]), scale=2, model=DEMO, seed=3
    )
    return request, run_upscale(request, cache_provider(demo_cache, DEMO))


def test_zero_shot_tiles_show_no_seams(two_by_two):
    request, result = two_by_two
    assert result.image.shape == (224, 224, 3)
    assert result.plan.tiles == 4
    border, rest = seam_energy(result.image, TileLayout(224, 224, 128, 32))
    assert border <= rest, (border, rest)
    # It is still the photo: close to the bicubic enlargement in its low frequencies.
    assert _psnr(_bicubic(result.image, (56, 56)), _bicubic(request.image, (56, 56))) > 20


def test_default_fidelity_follows_the_input_resolution(demo_cache):
    model = demo_cache.get(DEMO)  # 128 px, grids 1..16, stride 8
    assert default_fidelity(model, 2) == 6  # grids up to 8 = 64 input px / 8
    assert default_fidelity(model, 4) == 4  # grids up to 4


def test_non_square_517x389_x2_end_to_end(demo_cache, photo):
    image = np.ascontiguousarray(_bicubic(photo, (517, 389)))
    # 778-px windows (drawn at the model's 128 px): two across, none down, kept short for the CI.
    request = UpscaleRequest(image=image, scale=2, model=DEMO, seed=0, tile=778, overlap=194)
    seen = []
    result = run_upscale(request, cache_provider(demo_cache, DEMO), lambda i, n, _: seen.append(n))
    assert result.image.shape == (778, 1034, 3)
    assert len(seen) == result.plan.tiles == 2
    assert _psnr(_bicubic(result.image, (129, 97)), _bicubic(image, (129, 97))) > 20


class _MemoryLimited:
    """A real model on a device that runs out of memory the first time it is asked to sample
    (what a too-large tile does on a small GPU)."""

    def __init__(self, model):
        self.model, self.failed = model, False

    def __getattr__(self, name):
        return getattr(self.model, name)

    def sample(self, *args, **kwargs):
        if not self.failed:
            self.failed = True
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.model.sample(*args, **kwargs)


def test_out_of_memory_retries_with_smaller_tiles(demo_cache, photo):
    limited = _MemoryLimited(demo_cache.get(DEMO))
    image = np.ascontiguousarray(photo[:64, :64])
    request = UpscaleRequest(image=image, scale=2, model=DEMO, tile=256)
    result = run_upscale(request, lambda dtype: limited)
    assert result.image.shape == (128, 128, 3)
    assert "out of memory: 128px tiles" in result.notes


def test_non_finite_output_is_redone_in_full_precision(demo_cache, photo):
    broken = ModelCache().get(DEMO)  # its own copy: overflows like a half-precision run
    with torch.no_grad():
        for phi in broken.vqvae.quantize.quant_resi.qresi_ls:
            phi.bias.fill_(float("nan"))
    clean = demo_cache.get(DEMO)
    asked = []

    def provider(dtype):
        asked.append(dtype)
        return clean if dtype == "fp32" else broken

    image = np.ascontiguousarray(photo[:64, :64])
    result = run_upscale(UpscaleRequest(image=image, scale=2, model=DEMO), provider)
    assert "fp32" in asked and result.image.shape == (128, 128, 3)
    assert result.image.std() > 5  # a picture, not a black or flat window
    with pytest.raises(UserFacingError, match="NaN"):
        run_upscale(UpscaleRequest(image=image, scale=2, model=DEMO), lambda dtype: broken)


def test_planner_states_tiles_time_and_memory(demo_cache):
    model = demo_cache.get(DEMO)
    image = np.zeros((3000, 4000, 3), np.uint8)  # 12 MP
    plan = plan_request(UpscaleRequest(image=image, scale=2, model=DEMO), model)
    layout = TileLayout(6000, 8000, 128, 32)
    assert plan.tiles == len(layout) and plan.output_wh == (8000, 6000)
    assert plan.peak_bytes > model.memory_bytes() + 8000 * 6000 * 3
    assert plan.seconds > 0
    summary = plan.summary()
    assert summary.startswith(f"12.0 MP x2 -> {len(layout)} tiles, ~") and "GB" in summary


def test_fast_lanczos_keeps_alpha_and_any_target_size(photo):
    rgba = np.dstack((photo[:50, :70], np.full((50, 70), 200, np.uint8)))
    result = run_upscale(UpscaleRequest(image=rgba, target_size=(151, 97)))
    assert result.image.shape == (97, 151, 4) and (result.image[..., 3] == 200).all()
    assert result.plan.tiles == 0 and "instant" in result.plan.summary()
    with pytest.raises(UserFacingError, match="Scale 5"):
        run_upscale(UpscaleRequest(image=rgba, scale=5))
