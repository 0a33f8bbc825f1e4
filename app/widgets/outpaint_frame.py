"""Out-painting by dragging the picture's edges outward on the canvas.

Pure geometry (no widgets): which edge the pointer grabbed and how far each side extends.
The canvas draws the frame and feeds pointer positions in image pixels; the job controller
asks for the sides when Extend is pressed (the dialog is the fallback when nothing was dragged).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.choices import Sides

GRAB_SCREEN_PX = 8.0  # how close (on screen) the pointer must be to an edge to grab it
MAX_FACTOR = 1.0  # a side grows by at most the picture's size (the dialog's +100 %)


@dataclass
class OutpaintFrame:
    """The picture (``width`` x ``height``) plus how far each side is to be extended."""

    width: int = 0
    height: int = 0
    left: int = 0
    right: int = 0
    top: int = 0
    bottom: int = 0
    dragging: str | None = None

    def reset(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.left = self.right = self.top = self.bottom = 0
        self.dragging = None

    def bounds(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the extended canvas in image pixels."""
        return -self.left, -self.top, self.width + self.right, self.height + self.bottom

    def edge_at(self, x: float, y: float, zoom: float) -> str | None:
        """The edge of the extended canvas within grabbing distance of image point (x, y)."""
        if not self.width or not self.height:
            return None
        reach = GRAB_SCREEN_PX / max(zoom, 1e-6)
        x0, y0, x1, y1 = self.bounds()
        inside_x, inside_y = x0 - reach <= x <= x1 + reach, y0 - reach <= y <= y1 + reach
        candidates = {
            "left": abs(x - x0) if inside_y else None,
            "right": abs(x - x1) if inside_y else None,
            "top": abs(y - y0) if inside_x else None,
            "bottom": abs(y - y1) if inside_x else None,
        }
        near = {edge: d for edge, d in candidates.items() if d is not None and d <= reach}
        return min(near, key=near.get) if near else None

    def drag_to(self, x: float, y: float) -> None:
        """Move the grabbed edge to image point (x, y); it never crosses into the picture."""
        limit_x, limit_y = round(self.width * MAX_FACTOR), round(self.height * MAX_FACTOR)
        if self.dragging == "left":
            self.left = min(limit_x, max(0, round(-x)))
        elif self.dragging == "right":
            self.right = min(limit_x, max(0, round(x - self.width)))
        elif self.dragging == "top":
            self.top = min(limit_y, max(0, round(-y)))
        elif self.dragging == "bottom":
            self.bottom = min(limit_y, max(0, round(y - self.height)))

    def sides(self) -> Sides | None:
        """What was dragged, or None when every side is still at the picture's edge."""
        if not (self.left or self.right or self.top or self.bottom):
            return None
        return Sides(self.left, self.right, self.top, self.bottom)
