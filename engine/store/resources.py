"""Where files shipped beside the code live: a checkout, an installed wheel or a frozen build."""

from __future__ import annotations

import sys
from pathlib import Path

SAMPLE_PHOTO = "chelsea.jpg"  # CC0, from scikit-image; held out from the demo model's training


def resources_dir() -> Path:
    """``resources/`` next to ``engine/`` (checkout or wheel) or inside a frozen bundle."""
    root = Path(__file__).resolve().parents[2]  # the folder holding engine/
    candidates = [root / "resources"]
    base = getattr(sys, "_MEIPASS", None)  # frozen (PyInstaller-style) builds
    if base:
        candidates.insert(0, Path(base) / "resources")
    return next((c for c in candidates if c.is_dir()), candidates[-1])


def sample_photo() -> Path:
    """A photo to try the app on before opening one's own (File > Open Sample Photo)."""
    return resources_dir() / "samples" / SAMPLE_PHOTO
