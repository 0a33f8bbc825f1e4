"""A real local HTTP file server with Range support and a scripted dropped connection."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class WheelServer:
    files: dict[str, Path] = field(default_factory=dict)  # URL path -> file on disk
    drop_after: dict[str, int] = field(default_factory=dict)  # path -> bytes sent, then drop once
    ranges: list[str] = field(default_factory=list)  # every Range header seen
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _handler(server: WheelServer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_HEAD(self) -> None:  # noqa: N802
            source = server.files.get(self.path)
            if source is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(source.stat().st_size))
            self.end_headers()

        def do_GET(self) -> None:  # noqa: N802
            source = server.files.get(self.path)
            if source is None:
                self.send_error(404)
                return
            data = source.read_bytes()
            start = 0
            if rng := self.headers.get("Range"):
                server.ranges.append(rng)
                start = int(rng.removeprefix("bytes=").split("-")[0])
            self.send_response(206 if start else 200)
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            stop = server.drop_after.pop(self.path, None)
            body = data[start:] if stop is None else data[start : start + stop]
            self.wfile.write(body)
            if stop is not None:
                self.close_connection = True

    return Handler


@contextlib.contextmanager
def serving() -> Iterator[WheelServer]:
    state = WheelServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
