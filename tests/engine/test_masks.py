"""Grow, feather, bbox and token-grid rules for pixel masks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.imaging.masks import (
    EMPTY_MASK_MESSAGE,
    feather_mask,
    footprint_any,
    grow_mask,
    mask_bbox,
    require_nonempty,
    token_keep_mask,
)
from engine.runtime.cancel import UserFacingError


def random_mask(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A mix of rectangles, sparse dots and thin strokes, sometimes a single pixel."""
    mask = np.zeros((h, w), bool)
    kind = rng.integers(0, 4)
    if kind == 0:
        mask[rng.integers(0, h), rng.integers(0, w)] = True
    elif kind == 1:
        mask |= rng.random((h, w)) < 0.02
    else:
        for _ in range(int(rng.integers(1, 4))):
            y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
            y1 = min(h, y0 + int(rng.integers(1, max(2, h // 2 + 1))))
            x1 = min(w, x0 + int(rng.integers(1, max(2, w // 2 + 1))))
            mask[y0:y1, x0:x1] = True
    return mask


def brute_keep(mask: np.ndarray, pn: int) -> np.ndarray:
    h, w = mask.shape
    keep = np.ones((pn, pn), bool)
    for i in range(pn):
        for j in range(pn):
            r0, r1 = math.floor(i * h / pn), math.ceil((i + 1) * h / pn)
            c0, c1 = math.floor(j * w / pn), math.ceil((j + 1) * w / pn)
            keep[i, j] = not mask[r0:r1, c0:c1].any()
    return keep


# --- grow ---------------------------------------------------------------------------------------


def test_grow_zero_is_a_copy():
    mask = np.zeros((5, 5), bool)
    mask[2, 2] = True
    grown = grow_mask(mask, 0)
    assert grown is not mask and (grown == mask).all()
    grown[0, 0] = True
    assert not mask[0, 0]


@pytest.mark.parametrize("radius", [1, 2, 3, 5, 8])
def test_grow_single_pixel_is_a_euclidean_disc(radius):
    size = 2 * radius + 5
    mask = np.zeros((size, size), bool)
    c = size // 2
    mask[c, c] = True
    grown = grow_mask(mask, radius)
    yy, xx = np.mgrid[:size, :size]
    expected = (yy - c) ** 2 + (xx - c) ** 2 <= radius * radius
    np.testing.assert_array_equal(grown, expected)


def test_grow_empty_and_full():
    assert not grow_mask(np.zeros((4, 6), bool), 3).any()
    assert grow_mask(np.ones((4, 6), bool), 3).all()


def test_grow_rejects_colour_arrays():
    with pytest.raises(UserFacingError):
        grow_mask(np.zeros((4, 4, 3), bool), 1)


# --- feather ------------------------------------------------------------------------------------


def test_feather_is_zero_outside_and_one_deep_inside():
    mask = np.zeros((40, 40), bool)
    mask[5:35, 5:35] = True
    alpha = feather_mask(mask, 6)
    assert alpha.dtype == np.float32 and alpha.shape == mask.shape
    assert (alpha[~mask] == 0.0).all()
    assert (alpha[11:29, 11:29] == 1.0).all()
    assert 0.0 < alpha[5, 20] < 0.2  # the edge row fades in
    row = alpha[20, 5:20]
    assert (np.diff(row) >= 0).all()  # monotone toward the centre


def test_feather_zero_px_is_the_mask():
    mask = np.eye(5, dtype=bool)
    np.testing.assert_array_equal(feather_mask(mask, 0), mask.astype(np.float32))


def test_feather_image_border_is_not_an_edge():
    mask = np.zeros((20, 20), bool)
    mask[:, :10] = True  # touches three borders
    alpha = feather_mask(mask, 4)
    assert alpha[0, 0] == 1.0 and alpha[10, 0] == 1.0
    assert alpha[10, 9] < 1.0  # only the inner edge fades
    assert feather_mask(np.ones((3, 3), bool), 5).min() == 1.0


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 120), w=st.integers(1, 120), px=st.integers(0, 12), seed=st.integers(0, 9999)
)
def test_feather_property_zero_outside(h, w, px, seed):
    mask = random_mask(np.random.default_rng(seed), h, w)
    alpha = feather_mask(mask, px)
    assert (alpha[~mask] == 0.0).all()
    assert ((alpha >= 0.0) & (alpha <= 1.0)).all()
    assert (alpha[mask] > 0.0).all()


# --- bbox ---------------------------------------------------------------------------------------


def test_mask_bbox_is_exclusive():
    mask = np.zeros((10, 20), bool)
    mask[3, 7] = True
    mask[5, 12] = True
    assert mask_bbox(mask) == (7, 3, 13, 6)
    assert mask_bbox(np.ones((1, 1), bool)) == (0, 0, 1, 1)


def test_empty_mask_message():
    with pytest.raises(UserFacingError) as info:
        mask_bbox(np.zeros((3, 3), bool))
    assert str(info.value) == EMPTY_MASK_MESSAGE
    with pytest.raises(UserFacingError, match="The mask is empty"):
        require_nonempty(np.zeros((3, 3), bool))
    require_nonempty(np.eye(3, dtype=bool))


# --- token grid ---------------------------------------------------------------------------------


def test_token_keep_simple_grid():
    mask = np.zeros((16, 16), bool)
    mask[0, 0] = True
    mask[15, 8] = True
    keep = token_keep_mask(mask, 4)
    expected = np.ones((4, 4), bool)
    expected[0, 0] = False
    expected[3, 2] = False
    np.testing.assert_array_equal(keep, expected)


def test_token_keep_edge_cases():
    assert token_keep_mask(np.zeros((7, 9), bool), 5).all()
    assert not token_keep_mask(np.ones((7, 9), bool), 5).any()
    one = np.ones((1, 1), bool)
    assert token_keep_mask(one, 3).shape == (3, 3) and not token_keep_mask(one, 3).any()
    with pytest.raises(UserFacingError):
        token_keep_mask(one, 0)


@settings(max_examples=80, deadline=None)
@given(
    h=st.integers(1, 200),
    w=st.integers(1, 200),
    pn=st.sampled_from([1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 32]),
    seed=st.integers(0, 9999),
)
def test_token_keep_matches_brute_force(h, w, pn, seed):
    mask = random_mask(np.random.default_rng(seed), h, w)
    keep = token_keep_mask(mask, pn)
    assert keep.shape == (pn, pn) and keep.dtype == bool
    np.testing.assert_array_equal(keep, brute_keep(mask, pn))
    # Never keep a token whose footprint holds a masked pixel.
    ys, xs = np.nonzero(mask)
    for y, x in zip(ys[:50], xs[:50], strict=True):
        i, j = (y * pn) // h, (x * pn) // w  # the token that certainly covers (y, x)
        assert not keep[i, j]


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(1, 90),
    w=st.integers(1, 90),
    oh=st.integers(1, 90),
    ow=st.integers(1, 90),
    seed=st.integers(0, 9999),
)
def test_footprint_any_never_loses_a_pixel(h, w, oh, ow, seed):
    mask = random_mask(np.random.default_rng(seed), h, w)
    small = footprint_any(mask, oh, ow)
    assert small.shape == (oh, ow)
    assert small.any() == mask.any()
    for y, x in zip(*np.nonzero(mask), strict=True):
        assert small[(y * oh) // h, (x * ow) // w]
