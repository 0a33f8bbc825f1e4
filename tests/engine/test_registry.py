"""The model registry and the store's locations: stable ids, honest sizes, env read at call time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.runtime.cancel import UserFacingError
from engine.store import catalogue, index, installed, locations, removal
from engine.store.catalogue import all_models, get_model
from engine.store.registry import VAR_REPO, VAR_VAE, memory_estimate_gb, specs_using

RELEASED_IDS = [
    "var-d16",
    "var-d20",
    "var-d24",
    "var-d30",
    "var-d36-512",
    "infinity-2b",
    "varedit-2b-512",
    "varedit-8b-512",
    "varedit-8b-1024",
    "varsr",
    "demo",
]


@pytest.fixture(autouse=True)
def isolated_store(tmp_path, monkeypatch):
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "FINESCALE_DEMO_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("FINESCALE_DATA_DIR", str(tmp_path / "data"))


def test_ids_are_stable_and_unique():
    ids = [spec.id for spec in all_models()]
    assert ids == RELEASED_IDS


def test_var_models_are_the_shared_vqvae_plus_their_transformer():
    for depth in (16, 20, 24, 30):
        spec = get_model(f"var-d{depth}")
        assert [f.filename for f in spec.files] == ["vae_ch160v4096z32.pth", f"var_d{depth}.pth"]
        assert {f.repo_id for f in spec.files} == {VAR_REPO}
        assert spec.resolution == 256 and spec.patch_nums[-1] == 16
        assert spec.license == "MIT"
    d36 = get_model("var-d36-512")
    assert d36.file("transformer").filename == "var_d36.pth"
    assert d36.resolution == 512 and d36.patch_nums == (1, 2, 3, 4, 6, 9, 13, 18, 24, 32)
    assert len(specs_using(VAR_VAE)) == 5


def test_sizes_follow_the_reference():
    assert get_model("var-d16").file("transformer").size_bytes == 1_243_133_301
    assert abs(VAR_VAE.size_bytes - 436e6) < 1e6  # the hub page says 436 MB
    assert get_model("var-d30").file("transformer").size_bytes > 8e9
    infinity = get_model("infinity-2b")
    assert {f.role for f in infinity.files} >= {"vae", "transformer", "t5:config.json"}
    assert infinity.file("vae").filename == "infinity_vae_d32reg.pth"
    assert get_model("varedit-8b-1024").file("vae").filename.startswith("infinity_vae_d56")
    for spec in all_models():
        assert all(f.size_bytes > 0 for f in spec.files)
        if spec.family != "demo":  # published files are verified against the hub's own hashes
            assert all(f.sha256 is None for f in spec.files)
    demo = get_model("demo")
    assert all(f.sha256 and not f.size_is_estimate for f in demo.files)  # we built them


def test_unpublished_model_is_flagged_and_not_downloadable():
    from engine.store.download import download_model

    spec = get_model("varedit-2b-512")
    assert not spec.published
    with pytest.raises(UserFacingError, match="not published"):
        download_model(spec)


def test_unknown_id_lists_valid_ids():
    with pytest.raises(UserFacingError) as caught:
        get_model("var-d99")
    message = str(caught.value)
    assert "var-d99" in message
    assert all(model_id in message for model_id in RELEASED_IDS)


def test_memory_estimates():
    d16 = get_model("var-d16")
    cpu = memory_estimate_gb(d16, "cpu", "fp32")
    assert 2.0 <= cpu <= 3.0  # var.md §8 measured ~2.3 GiB
    assert memory_estimate_gb(d16, "cuda", "fp16") < cpu
    assert memory_estimate_gb(d16, "cuda:1", "bf16") == memory_estimate_gb(d16, "cuda", "bf16")
    assert memory_estimate_gb(d16, "mps", "fp16") == memory_estimate_gb(d16, "cuda", "fp16")
    assert memory_estimate_gb(d16, "cpu", "bf16") == cpu  # CPU half precision: charge fp32
    big = memory_estimate_gb(get_model("varedit-8b-1024"), "cuda", "bf16")
    assert big > memory_estimate_gb(get_model("varedit-8b-512"), "cuda", "bf16") > 20


def test_demo_status_follows_the_shipped_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("FINESCALE_DEMO_DIR", str(tmp_path / "demo"))
    demo = get_model("demo")
    assert installed.status(demo) == "not installed"
    with pytest.raises(UserFacingError, match="demo model is not included"):
        catalogue.resolve_model_choice("demo")
    (tmp_path / "demo").mkdir()
    for name in ("vae.safetensors", "var.safetensors"):
        (tmp_path / "demo" / name).write_bytes(b"x")
    assert installed.status(demo) == "installed"
    _, files, _ = catalogue.resolve_model_choice("demo")
    vae, var = files["vae"], files["transformer"]
    assert Path(vae).name == "vae.safetensors" and Path(var).name == "var.safetensors"
    with pytest.raises(UserFacingError, match="cannot be removed"):
        removal.remove(demo)


def test_not_installed_and_non_var_models_explain_themselves():
    with pytest.raises(UserFacingError, match="finescale models download var-d16"):
        catalogue.resolve_model_choice("var-d16")
    with pytest.raises(UserFacingError, match="finescale models download infinity-2b"):
        catalogue.resolve_model_choice("infinity-2b")  # runnable now: only missing
    with pytest.raises(UserFacingError, match="finescale models download varedit-8b-512"):
        catalogue.resolve_model_choice("varedit-8b-512")


def test_locations_are_read_at_call_time(tmp_path, monkeypatch):
    assert locations.hub_cache_dir() == tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    assert locations.hub_cache_dir() == tmp_path / "elsewhere"
    assert locations.models_dir() == tmp_path / "data" / "models"
    monkeypatch.delenv("FINESCALE_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    import sys

    if sys.platform.startswith("linux"):
        assert locations.data_dir() == tmp_path / "xdg" / "finescale"


def test_damaged_index_is_set_aside(tmp_path):
    locations.index_path().parent.mkdir(parents=True)
    locations.index_path().write_text("{not json")
    assert index.load_index()["files"] == {}
    index.record_files({"a/b": {"path": "/nowhere", "sha256": "0" * 64}})
    assert "a/b" in json.loads(locations.index_path().read_text())["files"]


def test_cli_models_list(capsys):
    from engine.cli.main import main

    assert main(["models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["id"] for row in rows] == RELEASED_IDS
    by_id = {row["id"]: row for row in rows}
    assert by_id["var-d16"]["status"] == "not installed"
    assert by_id["varedit-2b-512"]["status"] == "not published"
    assert main(["models", "list"]) == 0
    table = capsys.readouterr().out
    assert "var-d36-512" in table and "~1.68 GB" in table
