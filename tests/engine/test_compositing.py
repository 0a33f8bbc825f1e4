"""Context windows, model-size crops and the bit-exact paste-back."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.imaging.compositing import (
    Window,
    boundary_ring,
    context_window,
    match_colors,
    paste_back,
)
from engine.imaging.masks import feather_mask, grow_mask, mask_bbox
from engine.runtime.cancel import UserFacingError

sizes = st.integers(1, 300)


def noise(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def random_mask(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Single pixels, sparse dots, thin strokes or rectangles: never empty."""
    mask = np.zeros((h, w), bool)
    kind = int(rng.integers(0, 4))
    if kind == 0:
        mask[rng.integers(0, h), rng.integers(0, w)] = True
    elif kind == 1:
        mask |= rng.random((h, w)) < 0.01
    elif kind == 2:
        mask[:, rng.integers(0, w)] = True  # a one-pixel stroke across the picture
    else:
        y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
        mask[y0 : y0 + int(rng.integers(1, h + 1)), x0 : x0 + int(rng.integers(1, w + 1))] = True
    if not mask.any():
        mask[h // 2, w // 2] = True
    return mask


# --- windows ------------------------------------------------------------------------------------


def test_window_properties():
    w = Window(2, 3, 12, 8)
    assert (w.width, w.height) == (10, 5)
    assert np.zeros((10, 20))[w.slices].shape == (5, 10)


def test_small_mask_gets_a_model_sized_square_inside_the_image():
    window = context_window((400, 300, 410, 310), (1000, 800), 256)
    assert window.width == window.height == 256
    assert window.x0 <= 400 and window.x1 >= 410
    assert abs((window.x0 + window.x1) / 2 - 405) <= 1  # centred when there is room
    assert abs((window.y0 + window.y1) / 2 - 305) <= 1


def test_window_is_shifted_not_shrunk_at_the_border():
    window = context_window((0, 790, 5, 800), (1000, 800), 256)
    assert (window.x0, window.y1) == (0, 800)
    assert window.width == window.height == 256


def test_large_mask_gets_a_margin():
    window = context_window((100, 100, 500, 300), (2000, 2000), 256, margin_frac=0.25)
    assert window.width == window.height == 600


def test_small_image_axis_is_covered_whole():
    window = context_window((10, 5, 20, 10), (1000, 100), 256)
    assert (window.y0, window.y1) == (0, 100)
    assert window.width == 256  # still the full side where the image allows it


def test_bad_bbox():
    with pytest.raises(UserFacingError):
        context_window((5, 5, 5, 9), (10, 10), 8)
    with pytest.raises(UserFacingError):
        context_window((0, 0, 11, 3), (10, 10), 8)


@settings(max_examples=150, deadline=None)
@given(
    img_w=st.integers(1, 3000),
    img_h=st.integers(1, 3000),
    data=st.data(),
    model_res=st.sampled_from([16, 64, 256, 512]),
    margin=st.floats(0.0, 1.0),
)
def test_context_window_properties(img_w, img_h, data, model_res, margin):
    x0 = data.draw(st.integers(0, img_w - 1))
    y0 = data.draw(st.integers(0, img_h - 1))
    x1 = data.draw(st.integers(x0 + 1, img_w))
    y1 = data.draw(st.integers(y0 + 1, img_h))
    window = context_window((x0, y0, x1, y1), (img_w, img_h), model_res, margin)
    # Always inside the image and always containing the box.
    assert 0 <= window.x0 <= x0 and x1 <= window.x1 <= img_w
    assert 0 <= window.y0 <= y0 and y1 <= window.y1 <= img_h
    side = max(window.width, window.height)
    assert side >= min(model_res, max(img_w, img_h))
    if img_w >= side and img_h >= side:
        assert window.width == window.height  # square whenever the image allows it
    else:
        # Only an axis shorter than the side is allowed to be short, and then it spans it all.
        if window.width < side:
            assert (window.x0, window.x1) == (0, img_w)
        if window.height < side:
            assert (window.y0, window.y1) == (0, img_h)


# --- crop and resize ----------------------------------------------------------------------------


# --- paste back ---------------------------------------------------------------------------------


@settings(max_examples=120, deadline=None)
@given(
    h=sizes,
    w=sizes,
    channels=st.sampled_from([3, 4]),
    grow=st.integers(0, 16),
    feather=st.integers(0, 16),
    model_res=st.sampled_from([16, 32, 64]),
    seed=st.integers(0, 2**31),
)
@example(h=1, w=1, channels=3, grow=0, feather=0, model_res=16, seed=0)
@example(h=1, w=1, channels=4, grow=5, feather=5, model_res=16, seed=1)
@example(h=37, w=911, channels=4, grow=3, feather=8, model_res=64, seed=2)
@example(h=300, w=2, channels=3, grow=16, feather=16, model_res=32, seed=3)
def test_paste_back_is_bit_exact_outside_the_grown_mask(
    h, w, channels, grow, feather, model_res, seed
):
    rng = np.random.default_rng(seed)
    original = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
    grown = grow_mask(random_mask(rng, h, w), grow)
    alpha = feather_mask(grown, feather)
    window = context_window(mask_bbox(grown), (w, h), model_res)
    generated = rng.integers(0, 256, (model_res, model_res, 3), dtype=np.uint8)
    before = original.copy()
    out = paste_back(generated, window, original, alpha)
    np.testing.assert_array_equal(original, before)  # the input is never modified
    assert out.shape == original.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[~grown], original[~grown])
    np.testing.assert_array_equal(out[alpha == 0], original[alpha == 0])
    if channels == 4:
        np.testing.assert_array_equal(out[:, :, 3], original[:, :, 3])


@pytest.mark.parametrize("shape", [(37, 911), (911, 37), (1, 1), (1, 300), (300, 1)])
def test_paste_back_thin_shapes(shape):
    h, w = shape
    rng = np.random.default_rng(h * 1000 + w)
    original = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), bool)
    mask[h // 2, w // 2] = True
    grown = grow_mask(mask, 3)
    alpha = feather_mask(grown, 2)
    window = context_window(mask_bbox(grown), (w, h), 64)
    out = paste_back(np.zeros((64, 64, 3), np.uint8), window, original, alpha)
    np.testing.assert_array_equal(out[~grown], original[~grown])
    assert (out[h // 2, w // 2] == 0).all()  # the centre was replaced


def test_paste_back_full_alpha_takes_the_generated_pixels():
    original = noise((40, 40, 4))
    window = Window(10, 10, 30, 30)
    generated = noise((20, 20, 3), 7)  # already window-sized: used as is
    alpha = np.zeros((40, 40), np.float32)
    alpha[15:25, 15:25] = 1.0
    alpha[12, 12] = 0.5
    out = paste_back(generated, window, original, alpha)
    np.testing.assert_array_equal(out[15:25, 15:25, :3], generated[5:15, 5:15])
    expected = np.rint(0.5 * generated[2, 2].astype(float) + 0.5 * original[12, 12, :3])
    np.testing.assert_array_equal(out[12, 12, :3], expected.astype(np.uint8))
    np.testing.assert_array_equal(out[:, :, 3], original[:, :, 3])


def test_paste_back_ignores_alpha_outside_the_window():
    original = noise((30, 30, 3))
    alpha = np.ones((30, 30), np.float32)
    out = paste_back(np.zeros((8, 8, 3), np.uint8), Window(0, 0, 10, 10), original, alpha)
    assert (out[:10, :10] == 0).all()
    np.testing.assert_array_equal(out[10:], original[10:])


def test_paste_back_rejects_mismatches():
    original = noise((10, 10, 3))
    with pytest.raises(UserFacingError):
        paste_back(noise((4, 4, 3)), Window(0, 0, 4, 4), original, np.zeros((9, 10), np.float32))
    with pytest.raises(UserFacingError):
        paste_back(noise((4, 4, 3)), Window(0, 0, 11, 4), original, np.zeros((10, 10), np.float32))


# --- colour match and ring ----------------------------------------------------------------------


def test_boundary_ring():
    mask = np.zeros((21, 21), bool)
    mask[10, 10] = True
    ring = boundary_ring(mask, 2)
    assert not ring[10, 10] and ring[10, 12] and ring[8, 10] and not ring[10, 13]
    assert not boundary_ring(mask, 0).any()


def test_match_colors_removes_a_colour_cast():
    rng = np.random.default_rng(3)
    reference = rng.integers(60, 180, (60, 60, 3), dtype=np.uint8)
    generated = np.clip(reference.astype(int) + (30, -20, 10), 0, 255).astype(np.uint8)
    region = np.zeros((60, 60), bool)
    region[20:40, 20:40] = True
    ring = boundary_ring(region, 6)
    out = match_colors(generated, reference, region, ring)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[~region], generated[~region])  # only the region changes
    error = np.abs(out[region].astype(int) - reference[region].astype(int))
    assert error.mean() < 1.5


def test_match_colors_is_robust_to_flat_rings():
    reference = np.full((30, 30, 3), 100, np.uint8)
    generated = np.full((30, 30, 3), 140, np.uint8)
    generated[10:20, 10:20] = (0, 255, 140)
    region = np.zeros((30, 30), bool)
    region[10:20, 10:20] = True
    ring = boundary_ring(region, 4)
    out = match_colors(generated, reference, region, ring)
    # Flat ring: a pure shift by -40 on every channel, no division by a zero spread.
    np.testing.assert_array_equal(out[15, 15], (0, 215, 100))


def test_match_colors_with_too_small_a_ring_is_a_no_op():
    generated = noise((10, 10, 3))
    region = np.zeros((10, 10), bool)
    region[4:6, 4:6] = True
    ring = np.zeros((10, 10), bool)
    ring[3, 3] = True
    np.testing.assert_array_equal(
        match_colors(generated, noise((10, 10, 3), 1), region, ring), generated
    )
