"""Only the T5 encoder is kept on disk: after a download from a local hub, or an import.

A tiny Infinity set is served under the released names (FoundationVision/Infinity and a
flan-t5-xl-shaped folder: a full encoder-decoder in two shards). ``finescale models download
infinity-2b`` fetches it, writes the encoder tensors into one ``model.safetensors``, deletes the
shards, and the model then loads and gives the golden fixture's bits.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from engine.api import RESIDENT, ModelChoice, Sampling
from engine.models.family import Condition
from engine.models.infinity.config import SQUARE_SIDES
from engine.runtime.cancel import CancelToken
from engine.store import catalogue, download, installed, locations, verify
from engine.store.cache import ModelCache
from engine.store.registry import INFINITY_REPO, T5_ENCODER, T5_REPO, released_model
from engine.store.t5_encoder import write_encoder
from tests.engine.infinity.recipes import (
    PROMPT,
    T5_SHARD_NAMES,
    write_full_t5_folder,
    write_released,
)
from tests.engine.infinity.test_t2i_parity import MAIN, golden, reference_bits
from tests.hub_server import serve_hub

SPECIALS = json.dumps({"eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"})


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tiny_infinity")
    transformer, vae = write_released(folder, "pth")
    t5 = write_full_t5_folder(folder / "flan-t5-xl")
    (t5 / "special_tokens_map.json").write_text(SPECIALS)
    (t5 / "spiece.model").write_bytes(b"unused: the fast tokenizer.json is read")
    return {"transformer": transformer, "vae": vae, "t5": t5}


@pytest.fixture
def hub(tmp_path, monkeypatch, tiny_set):
    with serve_hub(tmp_path, monkeypatch) as server:
        server.add("infinity_2b_reg.pth", tiny_set["transformer"].read_bytes(), repo=INFINITY_REPO)
        server.add("infinity_vae_d32reg.pth", tiny_set["vae"].read_bytes(), repo=INFINITY_REPO)
        for path in tiny_set["t5"].iterdir():
            lfs = path.suffix in (".safetensors", ".model")
            server.add(path.name, path.read_bytes(), lfs=lfs, repo=T5_REPO)
        yield server


def shard_bytes(t5: Path) -> int:
    return sum((t5 / name).stat().st_size for name in T5_SHARD_NAMES)


def test_download_keeps_only_the_encoder_and_the_model_runs(hub, tiny_set, capsys):
    from engine.cli.main import main

    spec = released_model("infinity-2b")
    assert main(["models", "download", "infinity-2b"]) == 0
    assert installed.status(spec) == "installed"
    files = installed.resolve_files(spec)
    encoder = Path(files[T5_ENCODER.role])
    snapshot = encoder.parent
    assert sorted(p.name for p in snapshot.iterdir()) == sorted(
        ["config.json", "model.safetensors", "special_tokens_map.json", "spiece.model",
         "tokenizer.json", "tokenizer_config.json"]
    )  # fmt: skip
    blobs = locations.repo_folder(T5_REPO) / "blobs"
    assert not [b for b in blobs.iterdir() if b.stat().st_size > 100_000], "shards deleted"
    with safe_open(str(encoder), framework="pt") as handle:
        keys = list(handle.keys())
    assert keys and all(k.startswith(("shared.", "encoder.")) for k in keys)
    assert encoder.stat().st_size < shard_bytes(tiny_set["t5"]) / 2
    # The index lists what is on disk, and verify checks exactly that.
    checks = verify.verify(spec)
    assert {c.status for c in checks} == {"ok"} and len(checks) == len(spec.files)
    assert not any("of-00002" in c.filename for c in checks)
    # A second download has nothing to fetch.
    before = len(hub.requests)
    download.download_model(spec, None, CancelToken())
    assert len(hub.requests) == before
    # The installed set loads (registry id, 256 px) and gives the reference's bits.
    family, paths, _ = catalogue.resolve_model_choice("infinity-2b")
    assert family == "infinity"
    # Resident: the planner would size the plan for the real 2B on this machine's RAM.
    choice = ModelChoice(model_id="infinity-2b", patch_nums=SQUARE_SIDES[:7], memory=RESIDENT)
    model = ModelCache().get(choice)
    sampled = model.sample(Condition(text=PROMPT), Sampling(cfg=4, tau=0.5, top_p=0.97), 42)
    ref = golden(MAIN)
    for si, bits in enumerate(sampled.tokens):
        assert torch.equal(bits, reference_bits(ref, si)), f"scale {si}"
    assert main(["models", "list"]) == 0
    assert "infinity-2b" in capsys.readouterr().out


def test_the_encoder_file_has_exactly_the_encoder_tensors(tmp_path, tiny_set):
    t5 = tiny_set["t5"]
    shards = [t5 / name for name in T5_SHARD_NAMES]
    sha256, size = write_encoder(shards, tmp_path / "model.safetensors")
    assert size == (tmp_path / "model.safetensors").stat().st_size
    expected = {}
    for shard in shards:
        with safe_open(str(shard), framework="pt") as handle:
            for key in handle.keys():  # noqa: SIM118
                if key.startswith(("shared.", "encoder.")):
                    expected[key] = handle.get_tensor(key)
    with safe_open(str(tmp_path / "model.safetensors"), framework="pt") as handle:
        got = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    assert got.keys() == expected.keys()
    assert all(torch.equal(got[k], expected[k]) for k in got)
    # Writing again from the encoder file itself is a no-op copy (same bytes, same hash).
    assert (
        write_encoder([tmp_path / "model.safetensors"], tmp_path / "again.safetensors")[0] == sha256
    )


def test_shards_that_are_not_a_t5_encoder_are_refused(tmp_path):
    from safetensors.torch import save_file

    from engine.runtime.cancel import UserFacingError

    save_file({"decoder.final_layer_norm.weight": torch.ones(4)}, str(tmp_path / "x.safetensors"))
    with pytest.raises(UserFacingError, match="x.safetensors: not the weights of a T5 encoder"):
        write_encoder([tmp_path / "x.safetensors"], tmp_path / "out.safetensors")
    assert not (tmp_path / "out.safetensors").exists()


def test_shards_already_in_the_cache_are_built_offline(hub, monkeypatch):
    """An install from before the encoder-only rule (full shards in the hub cache, no encoder
    file): "download" builds the encoder from them without touching the network."""
    from dataclasses import replace

    from engine.store.registry import T5_SHARDS

    spec = released_model("infinity-2b")
    shards_only = replace(spec, id="shards", files=T5_SHARDS)
    download.download_model(shards_only, None, CancelToken())  # the old layout: shards cached
    rest = replace(spec, files=tuple(f for f in spec.files if f is not T5_ENCODER))
    download.download_model(rest, None, CancelToken())
    assert installed.missing_files(spec) == [T5_ENCODER]
    before = len(hub.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    paths = download.download_model(spec, None, CancelToken())
    assert len(hub.requests) == before, "nothing asked of the hub"
    assert installed.status(spec) == "installed" and Path(paths[T5_ENCODER.role]).is_file()
    assert all(installed.hub_cached_path(shard) is None for shard in T5_SHARDS)
