"""Quick fill: classical in-painting (OpenCV Telea / Navier-Stokes), no model needed.

Always available, instant, and good at small retouches; it is also the honest baseline that
every model is measured against.
"""

from __future__ import annotations

import cv2
import numpy as np

from engine.api import ModelChoice

QUICK_FILL_METHODS = {"quick-fill": cv2.INPAINT_TELEA, "quick-fill-ns": cv2.INPAINT_NS}


def is_quick_fill(choice: ModelChoice) -> bool:
    return choice.model_id in QUICK_FILL_METHODS


def quick_fill(image: np.ndarray, grown: np.ndarray, model_id: str, radius: int = 5) -> np.ndarray:
    """Fill ``grown`` from its surroundings; pixels outside it are returned untouched."""
    rgb = np.ascontiguousarray(image[..., :3])
    filled = cv2.inpaint(rgb, grown.astype(np.uint8) * 255, radius, QUICK_FILL_METHODS[model_id])
    result = image.copy()
    result[..., :3][grown] = filled[grown]
    return result
