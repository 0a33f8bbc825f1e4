"""Model downloads against a real local HTTP server shaped like the Hugging Face hub.

The server (``tests.hub_server``) answers what huggingface_hub 2.4.0 asks for, including ranged
``GET`` and a redirect to another origin for LFS files.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from engine.runtime.cancel import CancelToken, JobCancelled, UserFacingError
from engine.store import catalogue, download, index, installed, locations, removal, transfer, verify
from engine.store.registry import ModelFile, ModelSpec
from tests.hub_server import REPO, closed_port_url, payload, serve_hub


def _spec(*files: tuple[str, int], model_id: str = "test-model") -> ModelSpec:
    roles = ("vae", "transformer", "config")
    return ModelSpec(
        id=model_id,
        family="var",
        title="Test model",
        files=tuple(
            ModelFile(REPO, name, size, None, role)
            for (name, size), role in zip(files, roles, strict=False)
        ),
        license="MIT",
        resolution=64,
        tasks=("generate",),
        patch_nums=(1, 2, 3, 4),
        memory_gb={"cpu-fp32": 0.1},
    )


@pytest.fixture
def hub(tmp_path, monkeypatch):
    with serve_hub(tmp_path, monkeypatch) as server:
        yield server


def test_download_reports_progress_and_lands_in_hub_cache(hub):
    vae, var = payload(100_000, 1), payload(70_000, 2)
    config = b'{"depth": 2}\n'
    hub.add("vae.pth", vae)
    hub.add("var.pth", var)
    hub.add("config.json", config, lfs=False)
    spec = _spec(("vae.pth", 1), ("var.pth", 1), ("config.json", 1))
    events: list[download.DownloadProgress] = []

    paths = download.download_model(spec, events.append, CancelToken())

    assert Path(paths["vae"]).read_bytes() == vae
    assert Path(paths["transformer"]).read_bytes() == var
    assert Path(paths["config"]).read_bytes() == config
    assert installed.status(spec) == "installed"
    phases = [e.phase for e in events]
    assert phases[0] == "checking" and phases[-1] == "done"
    assert "downloading" in phases and "verifying" in phases
    total = len(vae) + len(var) + len(config)
    assert events[-1].done == events[-1].total == total  # registry sizes replaced by real ones
    dones = [e.done for e in events if e.phase == "downloading"]
    assert dones == sorted(dones)
    assert all(e.rate_bps >= 0 for e in events)
    # The LFS bytes came from the other origin, like the hub's CDN.
    assert len(hub.gets("/cdn/")) == 2
    # huggingface_hub itself finds the files offline.
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    cache = str(locations.hub_cache_dir())
    local = hf_hub_download(REPO, "var.pth", cache_dir=cache, local_files_only=True)
    assert Path(local).read_bytes() == var
    assert try_to_load_from_cache(REPO, "config.json", cache_dir=cache) == paths["config"]
    # The index recorded hashes, so verify works without the network.
    checks = verify.verify(spec)
    assert [c.status for c in checks] == ["ok", "ok", "ok"]
    assert {c.source for c in checks} == {"index"}
    # A second call downloads nothing.
    before = len(hub.requests)
    assert download.download_model(spec, None, CancelToken()) == paths
    assert len(hub.requests) == before


def test_fake_hub_is_hub_shaped(hub, tmp_path):
    """hf_hub_download 2.4.0 itself accepts the fake server (so the tests exercise the real API)."""
    from huggingface_hub import hf_hub_download

    data = payload(40_000, 3)
    hub.add("vae.pth", data)
    path = hf_hub_download(REPO, "vae.pth", cache_dir=str(tmp_path / "c"), endpoint=hub.url)
    assert Path(path).read_bytes() == data
    assert Path(path).resolve().name == hashlib.sha256(data).hexdigest()


def test_dropped_connection_resumes_with_range(hub):
    data = payload(200_000, 4)
    hub.add("vae.pth", data)
    key = hashlib.sha256(data).hexdigest()
    hub.drop_once[key] = 65536
    spec = _spec(("vae.pth", len(data)))

    paths = download.download_model(spec, None, CancelToken())

    assert Path(paths["vae"]).read_bytes() == data
    gets = hub.gets("/cdn/")
    assert len(gets) == 2 and "range" not in gets[0]
    offset = int(re.fullmatch(r"bytes=(\d+)-", gets[1]["range"])[1])
    assert 0 < offset <= 65536


def test_interrupted_call_leaves_a_partial_file_that_the_next_call_resumes(hub, monkeypatch):
    data = payload(150_000, 12)
    hub.add("var.pth", data)
    hub.drop_once[hashlib.sha256(data).hexdigest()] = 32768
    spec = _spec(("var.pth", len(data)))
    monkeypatch.setattr(transfer, "RETRIES", 0)  # give up at the first error, like a crash

    with pytest.raises(UserFacingError, match="try again"):
        download.download_model(spec, None, CancelToken())
    partial = next((locations.repo_folder(REPO) / "blobs").glob("*.incomplete"))
    kept = partial.stat().st_size
    assert 0 < kept <= 32768
    assert installed.status(spec) == "not installed"

    paths = download.download_model(spec, None, CancelToken())
    assert Path(paths["vae"]).read_bytes() == data
    assert hub.gets("/cdn/")[-1]["range"] == f"bytes={kept}-"


def test_cancel_keeps_partial_file_and_next_call_resumes(hub):
    data = payload(300_000, 5)
    hub.add("var.pth", data)
    hub.delay_s = 0.005
    spec = _spec(("var.pth", len(data)))
    token = CancelToken()

    def cancel_after_first_bytes(event: download.DownloadProgress) -> None:
        if event.phase == "downloading" and event.file_done > 0:
            token.cancel()

    with pytest.raises(JobCancelled):
        download.download_model(spec, cancel_after_first_bytes, token)
    partial = list((locations.repo_folder(REPO) / "blobs").glob("*.incomplete"))
    assert len(partial) == 1
    kept = partial[0].stat().st_size
    assert 0 < kept < len(data)
    assert installed.status(spec) == "not installed"

    hub.delay_s = 0.0
    paths = download.download_model(spec, None, CancelToken())
    assert Path(paths["vae"]).read_bytes() == data
    assert hub.gets("/cdn/")[-1]["range"] == f"bytes={kept}-"
    assert not list((locations.repo_folder(REPO) / "blobs").glob("*.incomplete"))


def test_checksum_mismatch_rejects_the_file(hub):
    data = payload(50_000, 6)
    hub.add("var_d99.pth", data, sha256=hashlib.sha256(b"something else").hexdigest())
    spec = _spec(("var_d99.pth", len(data)))

    with pytest.raises(UserFacingError, match="var_d99.pth.*checksum"):
        download.download_model(spec, None, CancelToken())

    blobs = locations.repo_folder(REPO) / "blobs"
    assert not [p for p in blobs.iterdir()]  # neither the blob nor a partial file is kept
    assert installed.status(spec) == "not installed"
    assert not index.load_index()["files"]


def test_server_down_gives_offline_message(hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", closed_port_url())
    spec = _spec(("vae.pth", 10), ("var.pth", 10))

    with pytest.raises(UserFacingError, match="offline.*Import from disk"):
        download.download_model(spec, None, CancelToken())
    assert installed.status(spec) == "not installed"
    assert not index.load_index()["files"]


def test_hf_hub_offline_never_touches_the_network(hub, monkeypatch):
    data = payload(20_000, 7)
    hub.add("vae.pth", data)
    spec = _spec(("vae.pth", len(data)))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    with pytest.raises(UserFacingError, match="offline"):
        download.download_model(spec, None, CancelToken())
    with pytest.raises(UserFacingError, match="offline"):
        download.remote_file_info(spec.files[0], spec)
    assert hub.requests == []

    monkeypatch.delenv("HF_HUB_OFFLINE")
    paths = download.download_model(spec, None, CancelToken())
    count = len(hub.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert download.download_model(spec, None, CancelToken()) == paths  # installed: no network
    assert len(hub.requests) == count


def test_not_enough_disk_space_is_refused_before_downloading(hub, monkeypatch):
    import shutil
    from collections import namedtuple

    data = payload(30_000, 8)
    hub.add("var.pth", data)
    spec = _spec(("var.pth", len(data)))
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))

    with pytest.raises(UserFacingError, match="disk space.*30.00 kB"):
        download.download_model(spec, None, CancelToken())
    assert hub.gets() == []


def test_missing_file_on_hub_names_it(hub):
    spec = _spec(("nope.pth", 10))
    with pytest.raises(UserFacingError, match="nope.pth"):
        download.download_model(spec, None, CancelToken())


def test_remove_deletes_cache_entries(hub):
    data = payload(10_000, 9)
    hub.add("vae.pth", data)
    spec = _spec(("vae.pth", len(data)))
    download.download_model(spec, None, CancelToken())
    assert installed.disk_usage(spec) == len(data)

    assert removal.remove(spec) == len(data)
    assert installed.status(spec) == "not installed"
    assert not list((locations.repo_folder(REPO) / "blobs").iterdir())


def test_cli_download_of_a_registry_model(hub, capsys):
    from engine.cli.main import main
    from engine.store.catalogue import get_model
    from engine.store.registry import VAR_REPO

    vae, var = payload(30_000, 10), payload(20_000, 11)
    hub.add("vae_ch160v4096z32.pth", vae, repo=VAR_REPO)
    hub.add("var_d16.pth", var, repo=VAR_REPO)

    assert main(["models", "download", "var-d16"]) == 0
    captured = capsys.readouterr()
    assert "[2/2] var_d16.pth: downloading" in captured.err and "done: 50.00 kB" in captured.err
    assert "transformer: " in captured.out
    assert installed.status(get_model("var-d16")) == "installed"
    assert installed.status(get_model("var-d20")) == "partial"  # the shared VQVAE is there
    _, files, _ = catalogue.resolve_model_choice("var-d16")
    var_path = files["transformer"]
    assert Path(var_path).read_bytes() == var

    assert main(["models", "verify"]) == 0
    assert capsys.readouterr().out.count("ok (against index)") >= 2
    assert main(["models", "download", "var-d99"]) == 1
    assert "Valid model ids" in capsys.readouterr().err
