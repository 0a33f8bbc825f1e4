"""Import from disk for Infinity: its VAE, its transformer (.pth or .safetensors) and a T5 folder
whose full shards are imported as the encoder only; the user's files are left as they were."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from engine.api import Sampling
from engine.models.family import Condition
from engine.models.infinity.config import SQUARE_SIDES
from engine.runtime.cancel import UserFacingError
from engine.store import importing, installed, verify
from engine.store.loaders import load_family
from engine.store.registry import T5_ENCODER, released_model
from tests.engine.infinity.recipes import (
    PROMPT,
    T5_SHARD_NAMES,
    write_full_t5_folder,
    write_released,
)
from tests.engine.infinity.test_t2i_parity import MAIN, golden, reference_bits
from tests.engine.infinity.test_t5_encoder_store import SPECIALS

pytestmark = pytest.mark.usefixtures("offline_store")  # importing never needs the network


@pytest.fixture(scope="module")
def carried(tmp_path_factory) -> Path:
    """What a user brings on a stick: the VAE and a flan-t5-xl folder as the hub has it."""
    folder = tmp_path_factory.mktemp("stick")
    write_released(folder / "tiny", "safetensors")
    shutil.move(folder / "tiny" / "infinity_vae_d32reg.safetensors", folder)
    t5 = write_full_t5_folder(folder / "flan-t5-xl")
    (t5 / "special_tokens_map.json").write_text(SPECIALS)
    (t5 / "spiece.model").write_bytes(b"unused")
    return folder


def snapshot(folder: Path) -> dict[str, tuple[int, float]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime) for p in folder.rglob("*") if p.is_file()}


def test_vae_and_t5_folder_import_keeps_the_encoder_only(carried):
    before = snapshot(carried)
    touched = importing.import_path(carried / "flan-t5-xl")
    touched += importing.import_path(carried / "infinity_vae_d32reg.safetensors")
    assert "infinity-2b" in touched
    assert snapshot(carried) == before, "the user's files are untouched"
    spec = released_model("infinity-2b")
    files = installed.resolve_files(spec)
    assert installed.status(spec) == "partial" and "transformer" not in files
    encoder = Path(files[T5_ENCODER.role])
    with safe_open(str(encoder), framework="pt") as handle:
        assert all(k.startswith(("shared.", "encoder.")) for k in handle.keys())  # noqa: SIM118
    shards = sum((carried / "flan-t5-xl" / n).stat().st_size for n in T5_SHARD_NAMES)
    assert encoder.stat().st_size < shards / 2
    assert not any(n in os.listdir(encoder.parent) for n in T5_SHARD_NAMES)
    checks = [c for c in verify.verify(spec) if c.status != "missing"]
    assert checks and {c.status for c in checks} == {"ok"}
    # The imported text encoder folder runs with the transformer as files.
    transformer = carried / "tiny" / "2B-256.safetensors"
    model = load_family(
        "infinity",
        {"transformer": str(transformer), "vae": files["vae"], "text_encoder": str(encoder.parent)},
        patch_nums=SQUARE_SIDES[:7],
    )
    sampled = model.sample(Condition(text=PROMPT), Sampling(cfg=4, tau=0.5, top_p=0.97), 42)
    ref = golden(MAIN)
    assert all(torch.equal(b, reference_bits(ref, si)) for si, b in enumerate(sampled.tokens))


def test_a_t5_folder_missing_a_shard_is_refused(carried, tmp_path):
    partial = tmp_path / "flan-t5-xl"
    shutil.copytree(carried / "flan-t5-xl", partial)
    (partial / T5_SHARD_NAMES[1]).unlink()
    with pytest.raises(UserFacingError, match="is a shard missing|not the weights of a T5"):
        importing.import_path(partial)
    assert installed.status(released_model("infinity-2b")) == "not installed"


def test_a_transformer_of_the_wrong_size_is_refused_by_name(carried, tmp_path):
    """Named like the released 2B but 128 wide: refused before anything is registered."""
    fake = tmp_path / "infinity_2b_reg.safetensors"
    shutil.copy(carried / "tiny" / "2B-256.safetensors", fake)
    with pytest.raises(UserFacingError, match="not the expected Infinity/VAREdit transformer"):
        importing.import_path(fake)
