"""Model downloads against a real local HTTP server shaped like the Hugging Face hub.

The server answers what huggingface_hub 2.4.0 asks for: ``HEAD /{repo}/resolve/{rev}/{file}``
with ``X-Repo-Commit`` + ``ETag`` (git files) or a 302 to another origin carrying
``X-Linked-Etag`` (sha256) + ``X-Linked-Size`` (LFS files), and ranged ``GET`` on the bytes.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest

from engine import download, model_store
from engine.cancel import CancelToken, JobCancelled, UserFacingError
from engine.registry import ModelFile, ModelSpec

REPO = "test-org/tiny-var"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")


class FakeHub:
    """A threaded hub stand-in that records every request it sees."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str], dict] = {}
        self.blobs: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.drop_once: dict[str, int] = {}  # blob key -> bytes sent before the connection drops
        self.delay_s = 0.0  # per 16 kB piece, to make cancelling mid-file deterministic
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_HEAD(self) -> None:
                hub.handle(self, head=True)

            def do_GET(self) -> None:
                hub.handle(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.cdn = f"http://localhost:{self.port}"  # another origin, like the hub's CDN
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def add(
        self, filename: str, data: bytes, lfs: bool = True, sha256: str | None = None, repo=REPO
    ) -> None:
        advertised = sha256 or hashlib.sha256(data).hexdigest()
        git = hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()
        key = advertised if lfs else git
        self.files[(repo, filename)] = {"data": data, "lfs": lfs, "sha": advertised, "git": git}
        self.blobs[key] = data

    def gets(self, path_part: str = "") -> list[dict[str, str]]:
        return [h for m, p, h in self.requests if m == "GET" and path_part in p]

    def handle(self, request: BaseHTTPRequestHandler, head: bool) -> None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append((request.command, request.path, headers))
        if request.path.startswith("/cdn/"):
            key = request.path.rsplit("/", 1)[1]
            return self.send_body(request, key, head, {})
        match = _RESOLVE.match(request.path)
        entry = match and self.files.get((match["repo"], unquote(match["file"])))
        common = {"X-Repo-Commit": COMMIT}
        if not entry:
            request.send_response(404)
            for name, value in {**common, "X-Error-Code": "EntryNotFound"}.items():
                request.send_header(name, value)
            request.send_header("Content-Length", "0")
            request.end_headers()
            return None
        if entry["lfs"]:
            request.send_response(302)
            request.send_header("Location", f"{self.cdn}/cdn/{entry['sha']}")
            request.send_header("X-Repo-Commit", COMMIT)
            request.send_header("X-Linked-Etag", f'"{entry["sha"]}"')
            request.send_header("X-Linked-Size", str(len(entry["data"])))
            request.send_header("ETag", f'"{entry["git"]}"')
            request.send_header("Content-Length", "0")
            request.end_headers()
            return None
        return self.send_body(request, entry["git"], head, {**common, "ETag": f'"{entry["git"]}"'})

    def send_body(self, request, key: str, head: bool, extra: dict[str, str]) -> None:
        data = self.blobs[key]
        start = 0
        ranged = re.fullmatch(r"bytes=(\d+)-", request.headers.get("Range", ""))
        if ranged:
            start = int(ranged[1])
            request.send_response(206)
            request.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            request.send_response(200)
        for name, value in extra.items():
            request.send_header(name, value)
        request.send_header("Accept-Ranges", "bytes")
        request.send_header("Content-Length", str(len(data) - start))
        request.end_headers()
        if head:
            return
        body = data[start:]
        cut = self.drop_once.pop(key, None) if not head else None
        if cut is not None:
            body = body[:cut]
        try:
            for offset in range(0, len(body), 16384):
                request.wfile.write(body[offset : offset + 16384])
                request.wfile.flush()
                if self.delay_s:
                    time.sleep(self.delay_s)
        except OSError:
            return
        if cut is not None:  # drop the connection mid-body
            request.close_connection = True
            request.connection.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _payload(size: int, seed: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}-{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def _spec(*files: tuple[str, int], model_id: str = "test-model") -> ModelSpec:
    roles = ("vae", "var", "config")
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
    from huggingface_hub import constants

    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("FINESCALE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(download, "CHUNK_BYTES", 16384)
    monkeypatch.setattr(download, "BACKOFF_S", 0.0)
    monkeypatch.setattr(download, "EVENT_INTERVAL_S", 0.0)
    server = FakeHub()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    yield server
    server.close()


def test_download_reports_progress_and_lands_in_hub_cache(hub):
    vae, var = _payload(100_000, 1), _payload(70_000, 2)
    config = b'{"depth": 2}\n'
    hub.add("vae.pth", vae)
    hub.add("var.pth", var)
    hub.add("config.json", config, lfs=False)
    spec = _spec(("vae.pth", 1), ("var.pth", 1), ("config.json", 1))
    events: list[download.DownloadProgress] = []

    paths = download.download_model(spec, events.append, CancelToken())

    assert Path(paths["vae"]).read_bytes() == vae
    assert Path(paths["var"]).read_bytes() == var
    assert Path(paths["config"]).read_bytes() == config
    assert model_store.status(spec) == "installed"
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

    cache = str(model_store.hub_cache_dir())
    local = hf_hub_download(REPO, "var.pth", cache_dir=cache, local_files_only=True)
    assert Path(local).read_bytes() == var
    assert try_to_load_from_cache(REPO, "config.json", cache_dir=cache) == paths["config"]
    # The index recorded hashes, so verify works without the network.
    checks = model_store.verify(spec)
    assert [c.status for c in checks] == ["ok", "ok", "ok"]
    assert {c.source for c in checks} == {"index"}
    # A second call downloads nothing.
    before = len(hub.requests)
    assert download.download_model(spec, None, CancelToken()) == paths
    assert len(hub.requests) == before


def test_fake_hub_is_hub_shaped(hub, tmp_path):
    """hf_hub_download 2.4.0 itself accepts the fake server (so the tests exercise the real API)."""
    from huggingface_hub import hf_hub_download

    data = _payload(40_000, 3)
    hub.add("vae.pth", data)
    path = hf_hub_download(REPO, "vae.pth", cache_dir=str(tmp_path / "c"), endpoint=hub.url)
    assert Path(path).read_bytes() == data
    assert Path(path).resolve().name == hashlib.sha256(data).hexdigest()


def test_dropped_connection_resumes_with_range(hub):
    data = _payload(200_000, 4)
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
    data = _payload(150_000, 12)
    hub.add("var.pth", data)
    hub.drop_once[hashlib.sha256(data).hexdigest()] = 32768
    spec = _spec(("var.pth", len(data)))
    monkeypatch.setattr(download, "RETRIES", 0)  # give up at the first error, like a crash

    with pytest.raises(UserFacingError, match="try again"):
        download.download_model(spec, None, CancelToken())
    partial = next((model_store.repo_folder(REPO) / "blobs").glob("*.incomplete"))
    kept = partial.stat().st_size
    assert 0 < kept <= 32768
    assert model_store.status(spec) == "not installed"

    paths = download.download_model(spec, None, CancelToken())
    assert Path(paths["vae"]).read_bytes() == data
    assert hub.gets("/cdn/")[-1]["range"] == f"bytes={kept}-"


def test_cancel_keeps_partial_file_and_next_call_resumes(hub):
    data = _payload(300_000, 5)
    hub.add("var.pth", data)
    hub.delay_s = 0.005
    spec = _spec(("var.pth", len(data)))
    token = CancelToken()

    def cancel_after_first_bytes(event: download.DownloadProgress) -> None:
        if event.phase == "downloading" and event.file_done > 0:
            token.cancel()

    with pytest.raises(JobCancelled):
        download.download_model(spec, cancel_after_first_bytes, token)
    partial = list((model_store.repo_folder(REPO) / "blobs").glob("*.incomplete"))
    assert len(partial) == 1
    kept = partial[0].stat().st_size
    assert 0 < kept < len(data)
    assert model_store.status(spec) == "not installed"

    hub.delay_s = 0.0
    paths = download.download_model(spec, None, CancelToken())
    assert Path(paths["vae"]).read_bytes() == data
    assert hub.gets("/cdn/")[-1]["range"] == f"bytes={kept}-"
    assert not list((model_store.repo_folder(REPO) / "blobs").glob("*.incomplete"))


def test_checksum_mismatch_rejects_the_file(hub):
    data = _payload(50_000, 6)
    hub.add("var_d99.pth", data, sha256=hashlib.sha256(b"something else").hexdigest())
    spec = _spec(("var_d99.pth", len(data)))

    with pytest.raises(UserFacingError, match="var_d99.pth.*checksum"):
        download.download_model(spec, None, CancelToken())

    blobs = model_store.repo_folder(REPO) / "blobs"
    assert not [p for p in blobs.iterdir()]  # neither the blob nor a partial file is kept
    assert model_store.status(spec) == "not installed"
    assert not model_store.load_index()["files"]


def test_server_down_gives_offline_message(hub, monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    spec = _spec(("vae.pth", 10), ("var.pth", 10))

    with pytest.raises(UserFacingError, match="offline.*Import from disk"):
        download.download_model(spec, None, CancelToken())
    assert model_store.status(spec) == "not installed"
    assert not model_store.load_index()["files"]


def test_hf_hub_offline_never_touches_the_network(hub, monkeypatch):
    data = _payload(20_000, 7)
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

    data = _payload(30_000, 8)
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
    data = _payload(10_000, 9)
    hub.add("vae.pth", data)
    spec = _spec(("vae.pth", len(data)))
    download.download_model(spec, None, CancelToken())
    assert model_store.disk_usage(spec) == len(data)

    assert model_store.remove(spec) == len(data)
    assert model_store.status(spec) == "not installed"
    assert not list((model_store.repo_folder(REPO) / "blobs").iterdir())


def test_cli_download_of_a_registry_model(hub, capsys):
    from engine.cli import main
    from engine.registry import VAR_REPO, get_model

    vae, var = _payload(30_000, 10), _payload(20_000, 11)
    hub.add("vae_ch160v4096z32.pth", vae, repo=VAR_REPO)
    hub.add("var_d16.pth", var, repo=VAR_REPO)

    assert main(["models", "download", "var-d16"]) == 0
    captured = capsys.readouterr()
    assert "[2/2] var_d16.pth: downloading" in captured.err and "done: 50.00 kB" in captured.err
    assert "var: " in captured.out
    assert model_store.status(get_model("var-d16")) == "installed"
    assert model_store.status(get_model("var-d20")) == "partial"  # the shared VQVAE is there
    vae_path, var_path, _ = model_store.resolve_model_choice("var-d16")
    assert Path(var_path).read_bytes() == var

    assert main(["models", "verify"]) == 0
    assert capsys.readouterr().out.count("ok (against index)") >= 2
    assert main(["models", "download", "var-d99"]) == 1
    assert "Valid model ids" in capsys.readouterr().err
