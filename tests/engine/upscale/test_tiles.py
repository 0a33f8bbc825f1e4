"""Window layout and blending: a tiled local operator equals the untiled one."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from engine.imaging.tiles import Blender, TileLayout, starts
from engine.pipelines.upscale_tiles import tiled_apply


def test_starts_cover_the_axis_and_snap_the_last_window():
    assert starts(100, 128, 32) == [0]
    assert starts(224, 128, 32) == [0, 96]
    assert starts(300, 128, 32) == [0, 96, 172]
    for length in range(129, 700, 37):
        s = starts(length, 128, 32)
        assert s[-1] + 128 == length and all(b - a <= 96 for a, b in zip(s, s[1:], strict=False))


def test_feather_weights_blend_equal_windows_to_themselves():
    layout = TileLayout(200, 300, 96, 24)
    blender = Blender(layout)
    flat = np.full((96, 96, 3), 137, np.uint8)
    for window in layout:
        blender.add(window, flat)
    assert (blender.result() == 137).all()


def _blur(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).filter(ImageFilter.BoxBlur(1)))


def test_tiled_local_operator_equals_untiled_away_from_overlaps(photo):
    """Blending is exact: a 3x3 blur tiled (96 px, overlap 24) vs one window over all of it
    differs by at most 1/255 outside the overlap bands (where window edges cut the blur)."""
    image = np.ascontiguousarray(photo[:200, :300])
    whole = tiled_apply(image, TileLayout(200, 300, 320, 0), lambda w, lr, k, m: _blur(lr))
    layout = TileLayout(200, 300, 96, 24)
    tiled = tiled_apply(image, layout, lambda w, lr, known, mask: _blur(lr))
    away = np.zeros((200, 300), bool)
    away[1:-1, 1:-1] = True  # the untiled window is padded past the image edge: skip the rim
    for s in layout.row_starts[1:]:
        away[s - 1 : s + 25] = False
    for s in layout.col_starts[1:]:
        away[:, s - 1 : s + 25] = False
    diff = np.abs(whole.astype(int) - tiled.astype(int)).max(-1)
    assert diff[away].max() <= 1


def test_later_windows_see_what_earlier_ones_produced(photo):
    image = np.ascontiguousarray(photo[:128, :224])
    seen = []

    def record(window, lr, known_rgb, known):
        seen.append(known.copy())
        return lr

    tiled_apply(image, TileLayout(128, 224, 128, 32), record)
    assert not seen[0].any() and seen[1][:, :32].all() and not seen[1][:, 32:].any()
