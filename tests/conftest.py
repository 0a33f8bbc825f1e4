"""Shared test setup: deterministic CPU threads and the golden VAR fixture models on disk."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def fixture_checkpoints(tmp_path_factory) -> dict[str, str]:
    """The var_tiny recipes written as real checkpoint files: .pth and .safetensors."""
    from safetensors.torch import save_file

    from tests.recipes import build_state_dict

    folder = tmp_path_factory.mktemp("var_tiny")
    paths = {}
    for name, recipe in (
        ("vae", "weights_vqvae.json"),
        ("var", "weights_var.json"),
        ("var_shared_aln", "weights_var_shared_aln.json"),
    ):
        state = build_state_dict(recipe)
        torch.save(state, folder / f"{name}.pth")
        save_file(state, str(folder / f"{name}.safetensors"))
        paths[f"{name}.pth"] = str(folder / f"{name}.pth")
        paths[f"{name}.safetensors"] = str(folder / f"{name}.safetensors")
    return paths


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory) -> tuple[str, str]:
    """A 64 px random VAR + VQVAE pair (fast enough for pipeline and GUI tests)."""
    from tests.tiny_models import write_tiny_checkpoints

    return write_tiny_checkpoints(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def offline_store(tmp_path, monkeypatch):
    """A fresh, empty model store and hub cache under ``tmp_path``, with the hub offline (so a
    test that should never need the network fails if it tries)."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("FINESCALE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
