"""Colour / low-frequency matching of a result to its enlarged input."""

from __future__ import annotations

import numpy as np

from engine.pipelines.colorfix import adain_fix, colour_fix, wavelet_fix, wavelet_levels


def test_wavelet_fix_takes_low_frequencies_from_the_source(photo):
    result = np.ascontiguousarray(photo[:128, :128])
    assert np.abs(wavelet_fix(result, result, 2).astype(int) - result).max() <= 1  # identity
    tinted = np.clip(result.astype(int) + (40, -30, 10), 0, 255).astype(np.uint8)
    fixed = wavelet_fix(tinted, result, 2)
    assert np.abs(fixed.mean((0, 1)) - result.mean((0, 1))).max() < 3  # colour from the source
    detail = lambda x: x.astype(float) - x.astype(float).mean((0, 1))  # noqa: E731
    assert np.corrcoef(detail(fixed).ravel(), detail(tinted).ravel())[0, 1] > 0.9


def test_adain_matches_channel_statistics(photo):
    source = np.ascontiguousarray(photo[:64, :64])
    result = np.ascontiguousarray(photo[64:128, 64:128])
    fixed = adain_fix(result, source)
    assert np.abs(fixed.mean((0, 1)) - source.mean((0, 1))).max() < 2
    assert colour_fix(result, source, "none") is result


def test_wavelet_levels_follow_the_scale():
    assert [wavelet_levels(f) for f in (1, 2, 3, 4, 8)] == [1, 1, 2, 2, 3]
