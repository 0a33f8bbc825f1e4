"""Moving one file's bytes from the hub: resumable ranged GETs, retries with back-off, a
progress meter, and cancellation between chunks."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from engine.api import DownloadProgress
from engine.runtime.cancel import CancelToken, UserFacingError
from engine.store.registry import ModelFile, ModelSpec

METADATA_TIMEOUT_S = 10.0

_HEX = set("0123456789abcdef")


def is_hex(value: str, length: int) -> bool:
    return len(value) == length and set(value.lower()) <= _HEX


def hub_endpoint() -> str:
    """``HF_ENDPOINT`` as set now (huggingface_hub only reads it once, at import)."""
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


@dataclass(frozen=True)
class RemoteFile:
    """What the hub says about one file right now."""

    model_file: ModelFile
    url: str  # where to GET the bytes (the CDN location when the hub redirects)
    etag: str  # LFS files: the sha256; small git files: the git blob sha1
    commit: str
    size: int | None
    drop_auth: bool  # the bytes live on another host: never send the token there

    @property
    def sha256(self) -> str | None:
        return self.etag if is_hex(self.etag, 64) else None


def offline_error(spec_title: str, detail: str) -> UserFacingError:
    return UserFacingError(
        f"offline: cannot reach the model hub ({detail}), so {spec_title} was not downloaded; "
        "check the connection and try again (it resumes), or use Import from disk."
    )


def hub_error(exc: Exception, spec: ModelSpec, model_file: ModelFile) -> UserFacingError:
    """Turn hub/HTTP failures into one sentence that says what to do."""
    import httpx2
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    name, repo = model_file.filename, model_file.repo_id
    if isinstance(exc, OfflineModeIsEnabled):
        return offline_error(spec.title, "HF_HUB_OFFLINE is set")
    if isinstance(exc, httpx2.ProxyError):
        return UserFacingError(f"The proxy refused the connection to the model hub ({exc}).")
    if isinstance(exc, httpx2.TransportError):
        return offline_error(spec.title, f"{hub_endpoint()}: {type(exc).__name__}")
    if isinstance(exc, GatedRepoError):
        return UserFacingError(
            f"{repo} requires accepting its licence on the hub and logging in "
            f"(huggingface-cli login) before {name} can be downloaded."
        )
    if isinstance(exc, RepositoryNotFoundError):
        return UserFacingError(f"The hub has no repository {repo} (or it is private).")
    if isinstance(exc, RevisionNotFoundError):
        return UserFacingError(f"{repo} has no revision '{model_file.revision}'.")
    if isinstance(exc, EntryNotFoundError):
        return UserFacingError(f"{name} is not (or no longer) published in {repo} on the hub.")
    if isinstance(exc, HfHubHTTPError):
        code = exc.response.status_code if exc.response is not None else "?"
        return UserFacingError(
            f"The model hub answered HTTP {code} for {name}; try again later or use Import from "
            "disk."
        )
    return UserFacingError(f"{name}: download failed ({exc}).")


CHUNK_BYTES = 1 << 20  # cancel / progress granularity


RETRIES = 5  # consecutive failed attempts (without new bytes) before giving up


BACKOFF_S = 1.0


EVENT_INTERVAL_S = 0.1


READ_TIMEOUT_S = 60.0


class Meter:
    """Turns byte counts into throttled events with a smoothed rate and an ETA."""

    def __init__(self, spec: ModelSpec, total: int, done: int, sink) -> None:
        self.spec, self.total, self.done, self.sink = spec, total, done, sink
        self.file_count = len(spec.download_files)
        self.rate = 0.0
        self._last_emit = 0.0
        self._window: list[tuple[float, int]] = []
        self.current: tuple[str, int, int, int | None] = ("", 0, 0, None)

    def start_file(self, filename: str, index: int, done: int, total: int | None) -> None:
        self.current = (filename, index, done, total)

    def add(self, count: int, phase: str = "downloading") -> None:
        filename, index, file_done, file_total = self.current
        self.current = (filename, index, file_done + count, file_total)
        self.done += count
        now = time.monotonic()
        self._window.append((now, self.done))
        while len(self._window) > 2 and now - self._window[0][0] > 5.0:
            self._window.pop(0)
        first_t, first_done = self._window[0]
        if now - first_t > 0.2:
            self.rate = max((self.done - first_done) / (now - first_t), 0.0)
        if now - self._last_emit >= EVENT_INTERVAL_S:
            self.emit(phase)

    def emit(self, phase: str) -> None:
        self._last_emit = time.monotonic()
        if self.sink is None:
            return
        filename, index, file_done, file_total = self.current
        remaining = max(self.total - self.done, 0)
        eta = remaining / self.rate if self.rate > 0 else (0.0 if not remaining else None)
        self.sink(
            DownloadProgress(
                model_id=self.spec.id,
                filename=filename,
                file_index=index,
                file_count=self.file_count,
                file_done=file_done,
                file_total=file_total,
                done=self.done,
                total=self.total,
                rate_bps=self.rate,
                eta_s=eta,
                phase=phase,
            )
        )


def _request_headers(drop_auth: bool) -> dict[str, str]:
    from huggingface_hub.utils import build_hf_headers

    headers = dict(build_hf_headers())
    headers["Accept-Encoding"] = "identity"  # byte offsets must be offsets in the real file
    if drop_auth:
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    return headers


def _sleep(seconds: float, token: CancelToken) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        token.raise_if_cancelled()
        time.sleep(min(0.05, max(end - time.monotonic(), 0)))


def transfer(remote: RemoteFile, part: Path, meter: Meter, token: CancelToken, spec) -> None:
    """Append the missing tail of the file to ``part``; retries resume where the data stopped."""
    import httpx2
    from huggingface_hub import get_session
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
    from huggingface_hub.utils import hf_raise_for_status

    session = get_session()
    failures = 0
    timeout = httpx2.Timeout(READ_TIMEOUT_S, connect=METADATA_TIMEOUT_S)
    while True:
        token.raise_if_cancelled()
        have = part.stat().st_size if part.exists() else 0
        if remote.size is not None and have > remote.size:
            part.unlink()  # longer than the real file: cannot be a prefix of it
            meter.add(-have, "checking")
            have = 0
        if remote.size is not None and have == remote.size:
            return
        headers = _request_headers(remote.drop_auth)
        if have:
            headers["Range"] = f"bytes={have}-"
        received = 0
        try:
            with session.stream(
                "GET", remote.url, headers=headers, follow_redirects=True, timeout=timeout
            ) as response:
                if response.status_code == 416 and have:  # our partial file is not a prefix
                    part.unlink()
                    meter.add(-have, "checking")
                    continue
                if response.status_code >= 400:
                    response.read()
                    hf_raise_for_status(response)
                if have and response.status_code != 206:  # server ignored Range: start over
                    meter.add(-have, "checking")
                    have = 0
                with open(part, "ab" if have else "wb") as handle:
                    for chunk in response.iter_bytes(CHUNK_BYTES):
                        token.raise_if_cancelled()
                        handle.write(chunk)
                        received += len(chunk)
                        meter.add(len(chunk))
            if remote.size is None or have + received == remote.size:
                return
            raise httpx2.RemoteProtocolError("connection closed before the end of the file")
        except (httpx2.TransportError, httpx2.StreamError) as exc:
            failures = 0 if received else failures + 1
            if failures >= RETRIES:
                raise hub_error(exc, spec, remote.model_file) from exc
            _sleep(BACKOFF_S * min(2 ** max(failures - 1, 0), 8), token)
        except (HfHubHTTPError, OfflineModeIsEnabled) as exc:
            raise hub_error(exc, spec, remote.model_file) from exc
        except OSError as exc:  # the disk, not the network: disk full, permissions
            raise UserFacingError(
                f"{remote.model_file.filename}: could not write to {part.parent} "
                f"({exc.strerror or exc})."
            ) from exc
