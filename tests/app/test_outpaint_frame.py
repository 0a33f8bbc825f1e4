"""Edge grabbing and dragging of the out-paint frame (geometry only)."""

from __future__ import annotations

from app.choices import Sides
from app.widgets.outpaint_frame import OutpaintFrame


def test_grabs_the_nearest_edge_within_a_few_screen_pixels():
    frame = OutpaintFrame(100, 50)
    assert frame.edge_at(100.5, 25, zoom=1.0) == "right"
    assert frame.edge_at(-3, 10, zoom=1.0) == "left"
    assert frame.edge_at(50, 49, zoom=1.0) == "bottom"
    assert frame.edge_at(50, 25, zoom=1.0) is None, "the middle of the picture grabs nothing"
    assert frame.edge_at(111, 25, zoom=1.0) is None
    assert frame.edge_at(103, 25, zoom=0.5) == "right", "zoomed out, the reach grows in pixels"
    assert frame.edge_at(150, 200, zoom=1.0) is None, "far below the corner grabs nothing"


def test_drags_outward_only_and_at_most_the_picture_size():
    frame = OutpaintFrame(100, 50)
    assert frame.sides() is None
    frame.dragging = "right"
    frame.drag_to(130.4, 10)
    frame.dragging = "top"
    frame.drag_to(0, -500)
    assert frame.sides() == Sides(left=0, right=30, top=50, bottom=0)
    assert frame.bounds() == (0, -50, 130, 50)
    frame.drag_to(0, 20)  # back into the picture: the side closes, never negative
    assert frame.top == 0
    frame.reset(130, 50)
    assert frame.sides() is None and frame.dragging is None
