"""The shipped demo model (registry id "demo") and a held-out photo for the upscale tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.api import ModelChoice
from engine.store.cache import ModelCache

SAMPLE = Path(__file__).parents[3] / "resources" / "samples" / "chelsea.jpg"  # held out


@pytest.fixture(scope="session")
def demo_cache() -> ModelCache:
    cache = ModelCache(capacity=2)
    cache.get(ModelChoice(model_id="demo"))
    return cache


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    return np.array(Image.open(SAMPLE).convert("RGB"))


from tests.engine.varsr.conftest import varsr_files  # noqa: E402, F401  (VARSR files, CLI test)
