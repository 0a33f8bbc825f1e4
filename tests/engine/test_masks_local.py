"""Grow and feather work on the mask's box only: same bits as on the whole picture.

The whole-picture versions below are the plain definitions (one distance transform over every
pixel), kept here as the oracle the box-local code must reproduce exactly.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.imaging.masks import feather_mask, grow_mask


def grow_whole(mask: np.ndarray, px: int) -> np.ndarray:
    if px <= 0 or not mask.any():
        return mask.copy()
    distance = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return mask | (distance <= float(px))


def feather_whole(mask: np.ndarray, px: int) -> np.ndarray:
    if px <= 0 or not mask.any():
        return mask.astype(np.float32)
    distance = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    alpha = np.clip(distance / np.float32(px), 0.0, 1.0).astype(np.float32)
    alpha = alpha * alpha * (3.0 - 2.0 * alpha)
    alpha[~mask] = 0.0
    return alpha


def same_alpha(actual: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_array_equal(actual == 0, expected == 0)  # where blending happens: exact
    np.testing.assert_allclose(actual, expected, rtol=0, atol=2e-7)


def blobs(h: int, w: int, seed: int) -> np.ndarray:
    """A few random rectangles and discs, some touching the image border."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((h, w), bool)
    for _ in range(rng.integers(1, 4)):
        y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
        if rng.random() < 0.5:
            mask[y : y + int(rng.integers(1, h)), x : x + int(rng.integers(1, w))] = True
        else:
            cv2.circle(mask.view(np.uint8), (x, y), int(rng.integers(1, 12)), 1, -1)
    return mask


@settings(max_examples=60, deadline=None)
@given(st.integers(8, 90), st.integers(8, 90), st.integers(0, 20), st.integers(0, 10_000))
def test_box_local_grow_and_feather_equal_the_whole_picture(h, w, px, seed):
    mask = blobs(h, w, seed)
    np.testing.assert_array_equal(grow_mask(mask, px), grow_whole(mask, px))
    same_alpha(feather_mask(mask, px), feather_whole(mask, px))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(8, 90), st.integers(8, 90), st.integers(0, 20), st.integers(0, 10_000),
    st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)),
)  # fmt: skip
def test_feather_of_a_box_is_that_box_of_the_whole(h, w, px, seed, corners):
    mask = blobs(h, w, seed)
    ya, yb = sorted(int(c * h) for c in corners[:2])
    xa, xb = sorted(int(c * w) for c in corners[2:])
    box = (slice(ya, max(ya + 1, yb)), slice(xa, max(xa + 1, xb)))
    same_alpha(feather_mask(mask, px, box=box), feather_whole(mask, px)[box])


@pytest.mark.parametrize("where", ["middle", "corner"])
def test_a_small_mask_on_a_12_mp_photo_is_handled_in_its_box(where):
    mask = np.zeros((3000, 4000), bool)
    y, x = (1450, 1950) if where == "middle" else (0, 3900)
    mask[y : y + 100, x : x + 100] = True
    box = (slice(max(0, y - 30), y + 130), slice(max(0, x - 30), min(4000, x + 130)))
    grown = grow_mask(mask, 4)
    np.testing.assert_array_equal(grown[box], grow_whole(mask[box], 4))
    assert grown.sum() == grow_whole(mask[box], 4).sum()
    same_alpha(feather_mask(grown, 8)[box], feather_whole(grown[box], 8))
    assert not feather_mask(grown, 8)[~grown].any()
