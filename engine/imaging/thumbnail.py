"""Small copies of big images for strips and galleries, numpy only (the GUI may import it)."""

from __future__ import annotations

import math

import numpy as np


def thumbnail(image: np.ndarray, max_side: int = 256) -> np.ndarray:
    """Downscale a final image for the progress strip (nearest keeps it dependency-free)."""
    h, w = image.shape[:2]
    step = max(1, math.ceil(max(h, w) / max_side))
    return np.ascontiguousarray(image[::step, ::step])
