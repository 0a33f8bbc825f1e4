"""A real local HTTP server shaped like the Hugging Face hub, for download tests of any layer.

The server answers what huggingface_hub 2.4.0 asks for: ``HEAD /{repo}/resolve/{rev}/{file}``
with ``X-Repo-Commit`` + ``ETag`` (git files) or a 302 to another origin carrying
``X-Linked-Etag`` (sha256) + ``X-Linked-Size`` (LFS files), and ranged ``GET`` on the bytes.
Engine and GUI tests share it so both exercise the same wire protocol.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest

from engine.store import transfer

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


def payload(size: int, seed: int) -> bytes:
    """Deterministic incompressible bytes (a stand-in for checkpoint data)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}-{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def closed_port_url() -> str:
    """An address nobody listens on: the hub is down (or the machine is offline)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def serve_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """Start a ``FakeHub`` and point a fresh hub cache and data folder at it (online, fast).

    Small chunks and no retry back-off keep cancel points and failures quick and deterministic.
    """
    from huggingface_hub import constants

    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("FINESCALE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(transfer, "CHUNK_BYTES", 16384)
    monkeypatch.setattr(transfer, "BACKOFF_S", 0.0)
    monkeypatch.setattr(transfer, "EVENT_INTERVAL_S", 0.0)
    server = FakeHub()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    try:
        yield server
    finally:
        server.close()
