"""Shared tiny VAREdit models: the golden fixture's weights as released files on disk."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engine.store.infinity import load_transformer, load_vae
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


@pytest.fixture(scope="session")
def t5_folder(tmp_path_factory):
    from tests.engine.infinity.recipes import write_t5_folder

    return write_t5_folder(tmp_path_factory.mktemp("t5"))


@pytest.fixture(scope="session")
def edit_files(released_pth, t5_folder) -> dict[str, str]:
    transformer_path, vae_path = released_pth
    return {
        "transformer": str(transformer_path),
        "vae": str(vae_path),
        "text_encoder": str(t5_folder),
    }


@pytest.fixture(scope="session")
def edit_model(edit_files):
    """The tiny VAREdit through the family loader, at 256 px (the fixture's 0.06M schedule)."""
    from engine.models.infinity.config import SQUARE_SIDES
    from engine.store.infinity import load_varedit_files

    return load_varedit_files(edit_files, patch_nums=SQUARE_SIDES[:7])
