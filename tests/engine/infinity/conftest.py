"""Shared tiny VAREdit models: the golden fixture's weights as released files on disk."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engine.models.infinity.loader import load_transformer, load_vae
from tests.engine.infinity.recipes import FIXTURES, write_released


@pytest.fixture(scope="session")
def released_pth(tmp_path_factory) -> tuple:
    return write_released(tmp_path_factory.mktemp("varedit_pth"), "pth")


@pytest.fixture(scope="session")
def released_safetensors(tmp_path_factory) -> tuple:
    return write_released(tmp_path_factory.mktemp("varedit_st"), "safetensors")


@pytest.fixture(scope="session")
def tiny_models(released_pth):
    """(transformer, vae) loaded through the engine's loader from the .pth files."""
    transformer_path, vae_path = released_pth
    return load_transformer(str(transformer_path)), load_vae(str(vae_path))


@pytest.fixture(scope="session")
def source_rgb() -> np.ndarray:
    return np.asarray(Image.open(FIXTURES / "source.png").convert("RGB")).copy()


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.inference_mode():
        yield
