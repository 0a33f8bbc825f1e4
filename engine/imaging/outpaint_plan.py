"""Where the windows of a tiled job go: out-painting strips, in the order they must run.

Out-painting fills the new area window by window; each window must overlap what is already
known (the photo, then the windows before it) so it can be teacher-forced there. The plan here
is pure geometry: the fewest square windows of one side that cover every new pixel, walking
outward from the photo, each overlapping its predecessors by at least ``overlap`` pixels.
"""

from __future__ import annotations

import math

from engine.imaging.compositing import Window


def _starts(lo: int, hi: int, side: int, overlap: int, extent: int) -> list[int]:
    """Starts of the fewest windows of ``side`` that cover [lo, hi), evenly spread.

    Neighbours overlap by at least ``overlap``; windows stay inside [0, extent).
    """
    side = min(side, extent)
    length = hi - lo
    if length <= side:
        centre = (lo + hi) / 2
        return [min(max(0, math.floor(centre - side / 2)), extent - side)]
    step = max(1, side - overlap)
    count = math.ceil((length - side) / step) + 1
    last = hi - side
    return [round(lo + (last - lo) * k / (count - 1)) for k in range(count)]


def _depth_spans(inner: int, depth: int, side: int, overlap: int, outward: int) -> list[int]:
    """Inner edges of successive window rows moving away from the photo edge at ``inner``.

    ``outward`` is +1 (right/bottom) or -1 (left/top). The first row reaches ``overlap`` pixels
    into the photo; every next one overlaps the previous row by ``overlap``.
    """
    step = max(1, side - overlap)
    count = max(1, math.ceil(depth / step))
    return [inner - outward * overlap + outward * k * step for k in range(count)]


def outpaint_windows(
    photo: Window, canvas: tuple[int, int], side: int, overlap: int
) -> list[Window]:
    """Windows for out-painting ``photo`` placed inside a ``canvas`` of (width, height).

    Left and right strips span the photo's rows; top and bottom strips then span the whole
    width, so their windows continue the corners the side strips already began. A window that
    would leave the canvas is shifted back inside (its overlap only grows).
    """
    width, height = canvas
    sw, sh = min(side, width), min(side, height)
    windows: list[Window] = []

    def clamp(start: int, size: int, extent: int) -> int:
        return min(max(0, start), extent - size)

    strips = (
        (photo.x0, -1, "x"),  # left: new columns [0, photo.x0)
        (width - photo.x1, +1, "x"),  # right
        (photo.y0, -1, "y"),  # top
        (height - photo.y1, +1, "y"),  # bottom
    )
    for index, (depth, outward, axis) in enumerate(strips):
        if depth <= 0:
            continue
        inner = (photo.x0, photo.x1, photo.y0, photo.y1)[index]
        if axis == "x":
            along = _starts(photo.y0, photo.y1, sh, overlap, height)
            for edge in _depth_spans(inner, depth, sw, overlap, outward):
                x0 = clamp(edge if outward > 0 else edge - sw, sw, width)
                windows += [Window(x0, y0, x0 + sw, y0 + sh) for y0 in along]
        else:
            along = _starts(0, width, sw, overlap, width)
            for edge in _depth_spans(inner, depth, sh, overlap, outward):
                y0 = clamp(edge if outward > 0 else edge - sh, sh, height)
                windows += [Window(x0, y0, x0 + sw, y0 + sh) for x0 in along]
    return windows
