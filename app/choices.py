"""What the user answered in a dialog, as plain values the controllers act on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportChoice:
    path: str
    quality: int


@dataclass(frozen=True)
class Sides:
    """Pixels to add on each side of the picture (out-painting)."""

    left: int
    right: int
    top: int
    bottom: int
