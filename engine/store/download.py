"""Download registry models into the Hugging Face hub cache: resumable, cancellable, verified.

huggingface_hub 2.4.0's ``hf_hub_download`` writes to a per-process ``<etag>.<random>.incomplete``
file and deletes it on any failure, so an interrupted or cancelled multi-GB download restarts from
zero, and its progress hook only fires every 10 MB. Users on slow or flaky links complain about
exactly that, so this module keeps the hub's cache layout and metadata protocol (HEAD ``/resolve``
for commit, ETag = LFS sha256 and size; ``blobs/`` + ``snapshots/`` + ``refs/``) and hub's HTTP
session, but streams the body itself into a persistent ``blobs/<etag>.incomplete`` that the next
call continues with an HTTP ``Range`` request. Files land where ``hf_hub_download`` and
``try_to_load_from_cache`` look for them.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from engine.api import DownloadProgress
from engine.runtime.cancel import CancelToken, JobCancelled, UserFacingError
from engine.store.hashing import git_blob_sha1, sha256_file
from engine.store.index import record_files
from engine.store.installed import missing_files, resolve_files
from engine.store.locations import hub_cache_dir, hub_offline, repo_folder
from engine.store.registry import ModelFile, ModelSpec

CHUNK_BYTES = 1 << 20  # cancel / progress granularity
RETRIES = 5  # consecutive failed attempts (without new bytes) before giving up
BACKOFF_S = 1.0
EVENT_INTERVAL_S = 0.1
DISK_MARGIN_BYTES = 64 << 20
METADATA_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0

_HEX = set("0123456789abcdef")


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
        return self.etag if _is_hex(self.etag, 64) else None


def _is_hex(value: str, length: int) -> bool:
    return len(value) == length and set(value.lower()) <= _HEX


def hub_endpoint() -> str:
    """``HF_ENDPOINT`` as set now (huggingface_hub only reads it once, at import)."""
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def format_bytes(count: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(count) < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.2f} {unit}"
        count /= 1000
    return f"{count:.2f} GB"


# --------------------------------------------------------------------------------------------
# Errors


def _offline_error(spec_title: str, detail: str) -> UserFacingError:
    return UserFacingError(
        f"offline: cannot reach the model hub ({detail}), so {spec_title} was not downloaded; "
        "check the connection and try again (it resumes), or use Import from disk."
    )


def _as_user_error(exc: Exception, spec: ModelSpec, model_file: ModelFile) -> UserFacingError:
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
        return _offline_error(spec.title, "HF_HUB_OFFLINE is set")
    if isinstance(exc, httpx2.ProxyError):
        return UserFacingError(f"The proxy refused the connection to the model hub ({exc}).")
    if isinstance(exc, httpx2.TransportError):
        return _offline_error(spec.title, f"{hub_endpoint()}: {type(exc).__name__}")
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


# --------------------------------------------------------------------------------------------
# Metadata


def remote_file_info(
    model_file: ModelFile, spec: ModelSpec, endpoint: str | None = None
) -> RemoteFile:
    """HEAD ``/{repo}/resolve/{revision}/{file}``: commit, ETag (sha256 for LFS), size, location."""
    import httpx2
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if hub_offline():
        raise _offline_error(spec.title, "HF_HUB_OFFLINE is set")
    endpoint = endpoint or hub_endpoint()
    url = hf_hub_url(
        model_file.repo_id, model_file.filename, revision=model_file.revision, endpoint=endpoint
    )
    try:
        meta = get_hf_file_metadata(url, timeout=METADATA_TIMEOUT_S, endpoint=endpoint)
    except (httpx2.HTTPError, HfHubHTTPError, OfflineModeIsEnabled, OSError) as exc:
        raise _as_user_error(exc, spec, model_file) from exc
    if not meta.commit_hash or not meta.etag:
        raise UserFacingError(
            f"{endpoint} did not answer like a Hugging Face hub (no commit/ETag for "
            f"{model_file.filename}); check HF_ENDPOINT and proxy settings."
        )
    location = meta.location or url
    if meta.xet_file_data is not None:
        location = url  # the signed CDN address is fetched fresh through the hub redirect
    return RemoteFile(
        model_file=model_file,
        url=location,
        etag=meta.etag.lower(),
        commit=meta.commit_hash,
        size=meta.size,
        drop_auth=_origin(location) != _origin(url),
    )


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def remote_sha256(model_file: ModelFile, spec: ModelSpec) -> str | None:
    """The hub's sha256 for an LFS file (used by ``verify`` when nothing local knows it)."""
    info = remote_file_info(model_file, spec)
    return info.sha256 or ("git-sha1:" + info.etag if _is_hex(info.etag, 40) else None)


# --------------------------------------------------------------------------------------------
# Progress bookkeeping


class _Meter:
    """Turns byte counts into throttled events with a smoothed rate and an ETA."""

    def __init__(self, spec: ModelSpec, total: int, done: int, sink) -> None:
        self.spec, self.total, self.done, self.sink = spec, total, done, sink
        self.file_count = len(spec.files)
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


# --------------------------------------------------------------------------------------------
# Transfer


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


def _transfer(remote: RemoteFile, part: Path, meter: _Meter, token: CancelToken, spec) -> None:
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
                raise _as_user_error(exc, spec, remote.model_file) from exc
            _sleep(BACKOFF_S * min(2 ** max(failures - 1, 0), 8), token)
        except (HfHubHTTPError, OfflineModeIsEnabled) as exc:
            raise _as_user_error(exc, spec, remote.model_file) from exc
        except OSError as exc:  # the disk, not the network: disk full, permissions
            raise UserFacingError(
                f"{remote.model_file.filename}: could not write to {part.parent} "
                f"({exc.strerror or exc})."
            ) from exc


def _digest(path: Path, want_git: bool, token: CancelToken) -> tuple[str, str | None]:
    """sha256 (always, for the index) and, for small git files, git's blob sha1."""
    sha256 = sha256_file(path, check_cancelled=token.raise_if_cancelled)
    return sha256, git_blob_sha1(str(path)) if want_git else None


def _link_snapshot(storage: Path, remote: RemoteFile, blob: Path) -> Path:
    """``snapshots/<commit>/<file>`` → ``../../blobs/<etag>`` and ``refs/<revision>``."""
    pointer = storage / "snapshots" / remote.commit / remote.model_file.filename
    pointer.parent.mkdir(parents=True, exist_ok=True)
    if not os.path.lexists(pointer):
        try:
            os.symlink(os.path.relpath(blob, pointer.parent), pointer)
        except OSError:  # no symlinks (Windows without developer mode): the hub copies too
            shutil.copyfile(blob, pointer)
    revision = remote.model_file.revision
    if revision != remote.commit:
        ref = storage / "refs" / revision
        ref.parent.mkdir(parents=True, exist_ok=True)
        if not ref.exists() or ref.read_text().strip() != remote.commit:
            ref.write_text(remote.commit)
    return pointer


def _fetch_file(spec: ModelSpec, remote: RemoteFile, meter: _Meter, token: CancelToken) -> dict:
    """Download (or resume) one file, verify it, and publish it into the hub cache."""
    from filelock import FileLock, Timeout

    storage = repo_folder(remote.model_file.repo_id)
    blob = storage / "blobs" / remote.etag
    part = blob.with_name(blob.name + ".incomplete")
    blob.parent.mkdir(parents=True, exist_ok=True)
    lock_path = hub_cache_dir() / ".locks" / storage.name / f"{remote.etag}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path))
    while True:  # another process (or hf_hub_download) may be fetching the same blob
        try:
            lock.acquire(timeout=0.5)
            break
        except Timeout:
            token.raise_if_cancelled()
    try:
        sha256 = None
        if blob.exists():  # already in the cache (e.g. under another commit): check, reuse
            sha256, _ = _digest(blob, False, token)
            if remote.sha256 and sha256 != remote.sha256:
                blob.unlink()
                meter.add(-(remote.size or 0), "checking")
                sha256 = None
        if sha256 is None:
            _transfer(remote, part, meter, token, spec)
            meter.emit("verifying")
            sha256, git_sha1 = _digest(part, _is_hex(remote.etag, 40), token)
            expected = remote.model_file.sha256 or remote.sha256
            wrong = (expected and sha256 != expected.lower()) or (
                git_sha1 is not None and git_sha1 != remote.etag
            )
            if wrong:
                part.unlink(missing_ok=True)
                meter.add(-(remote.size or 0), "checking")
                raise UserFacingError(
                    f"{remote.model_file.filename}: checksum mismatch (the downloaded data does "
                    "not match the hub's sha256); the file was deleted, download it again."
                )
            os.replace(part, blob)
        pointer = _link_snapshot(storage, remote, blob)
    finally:
        lock.release()
    return {
        "source": "hub",
        "path": str(pointer),
        "sha256": sha256,
        "size": blob.stat().st_size if blob.exists() else pointer.stat().st_size,
        "repo_id": remote.model_file.repo_id,
        "filename": remote.model_file.filename,
        "commit": remote.commit,
        "etag": remote.etag,
    }


def _free_bytes(folder: Path) -> int:
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return shutil.disk_usage(os.getcwd()).free


def download_model(
    spec: ModelSpec,
    progress: Callable[[DownloadProgress], None] | None = None,
    token: CancelToken | None = None,
    *,
    endpoint: str | None = None,
) -> dict[str, str]:
    """Fetch whatever files of ``spec`` are missing; returns ``{role: path}`` of all its files.

    Raises ``JobCancelled`` when ``token`` is cancelled (the partial file stays for resuming) and
    ``UserFacingError`` when offline, out of disk space, or when a checksum does not match.
    """
    token = token or CancelToken()
    if spec.family == "demo":
        raise UserFacingError("The demo model ships with Finescale; there is nothing to download.")
    if spec.custom:
        raise UserFacingError(f"{spec.id} was imported from disk and cannot be downloaded.")
    if not spec.published:
        raise UserFacingError(
            f"{spec.title} is not published on the hub; import the files from disk instead."
        )
    missing = missing_files(spec)
    if not missing:
        return resolve_files(spec)
    if hub_offline():
        names = ", ".join(f.filename for f in missing)
        raise UserFacingError(
            f"offline: HF_HUB_OFFLINE is set and {spec.title} is missing {names}; "
            "unset it to download, or use Import from disk."
        )
    present_bytes = sum(f.size_bytes for f in spec.files if f not in missing)
    meter = _Meter(spec, spec.total_bytes, present_bytes, progress)
    remotes = []
    for model_file in missing:
        token.raise_if_cancelled()
        meter.start_file(model_file.filename, spec.files.index(model_file), 0, None)
        meter.emit("checking")
        remote = remote_file_info(model_file, spec, endpoint)
        if model_file.sha256 and remote.sha256 and remote.sha256 != model_file.sha256.lower():
            raise UserFacingError(
                f"{model_file.filename} changed on the hub (its sha256 differs from the one "
                "Finescale knows); not downloading an unknown file."
            )
        remotes.append(remote)

    # Exact sizes are known now: recount the totals and check the disk before writing anything.
    storage_sizes = []
    for remote in remotes:
        size = remote.size if remote.size is not None else remote.model_file.size_bytes
        blob = repo_folder(remote.model_file.repo_id) / "blobs" / remote.etag
        part = blob.with_name(blob.name + ".incomplete")
        have = size if blob.exists() else (part.stat().st_size if part.exists() else 0)
        storage_sizes.append((size, min(have, size)))
    meter.total = present_bytes + sum(size for size, _ in storage_sizes)
    meter.done = present_bytes + sum(have for _, have in storage_sizes)
    needed = sum(size - have for size, have in storage_sizes)
    cache = hub_cache_dir()
    free = _free_bytes(cache)
    if needed + DISK_MARGIN_BYTES > free:
        raise UserFacingError(
            f"Not enough disk space for {spec.title}: {format_bytes(needed)} still to download "
            f"but only {format_bytes(free)} free at {cache}; free some space or point HF_HOME "
            "to a larger drive."
        )

    records = {}
    for remote, (size, have) in zip(remotes, storage_sizes, strict=True):
        model_file = remote.model_file
        meter.start_file(model_file.filename, spec.files.index(model_file), have, size)
        meter.emit("downloading")
        records[model_file.key] = _fetch_file(spec, remote, meter, token)
    meter.emit("done")
    record_files(records)
    found = resolve_files(spec)
    if len(found) != len(spec.files):  # e.g. the cache folder was changed under our feet
        raise UserFacingError(f"{spec.title}: downloaded files could not be found in {cache}.")
    return found


__all__ = [
    "DownloadProgress",
    "JobCancelled",
    "RemoteFile",
    "download_model",
    "format_bytes",
    "hub_endpoint",
    "remote_file_info",
    "remote_sha256",
]
