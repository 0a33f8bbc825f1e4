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
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from engine.api import DownloadProgress
from engine.runtime.cancel import CancelToken, JobCancelled, UserFacingError
from engine.store.hashing import git_blob_sha1, sha256_file
from engine.store.index import forget_files, record_files
from engine.store.installed import hub_cached_path, missing_files, resolve_files
from engine.store.locations import hub_cache_dir, hub_offline, repo_folder
from engine.store.registry import ModelFile, ModelSpec
from engine.store.transfer import (
    METADATA_TIMEOUT_S,
    Meter,
    RemoteFile,
    hub_endpoint,
    hub_error,
    is_hex,
    offline_error,
    transfer,
)

DISK_MARGIN_BYTES = 64 << 20


def format_bytes(count: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(count) < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.2f} {unit}"
        count /= 1000
    return f"{count:.2f} GB"


# --------------------------------------------------------------------------------------------
# Errors


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
        raise offline_error(spec.title, "HF_HUB_OFFLINE is set")
    endpoint = endpoint or hub_endpoint()
    url = hf_hub_url(
        model_file.repo_id, model_file.filename, revision=model_file.revision, endpoint=endpoint
    )
    try:
        meta = get_hf_file_metadata(url, timeout=METADATA_TIMEOUT_S, endpoint=endpoint)
    except (httpx2.HTTPError, HfHubHTTPError, OfflineModeIsEnabled, OSError) as exc:
        raise hub_error(exc, spec, model_file) from exc
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
    return info.sha256 or ("git-sha1:" + info.etag if is_hex(info.etag, 40) else None)


# --------------------------------------------------------------------------------------------
# Progress bookkeeping


# --------------------------------------------------------------------------------------------
# Transfer


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


def _fetch_file(spec: ModelSpec, remote: RemoteFile, meter: Meter, token: CancelToken) -> dict:
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
            transfer(remote, part, meter, token, spec)
            meter.emit("verifying")
            sha256, git_sha1 = _digest(part, is_hex(remote.etag, 40), token)
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


def _check_downloadable(spec: ModelSpec) -> None:
    if spec.family == "demo":
        raise UserFacingError("The demo model ships with Finescale; there is nothing to download.")
    if spec.custom:
        raise UserFacingError(f"{spec.id} was imported from disk and cannot be downloaded.")
    if not spec.published:
        raise UserFacingError(
            f"{spec.title} is not published on the hub; import the files from disk instead."
        )


def _look_up(spec, missing, meter: Meter, token: CancelToken, endpoint) -> list[RemoteFile]:
    """What the hub says of each missing file; a known file whose hash changed is refused."""
    remotes = []
    for model_file in missing:
        token.raise_if_cancelled()
        meter.start_file(model_file.filename, spec.download_files.index(model_file), 0, None)
        meter.emit("checking")
        remote = remote_file_info(model_file, spec, endpoint)
        if model_file.sha256 and remote.sha256 and remote.sha256 != model_file.sha256.lower():
            raise UserFacingError(
                f"{model_file.filename} changed on the hub (its sha256 differs from the one "
                "Finescale knows); not downloading an unknown file."
            )
        remotes.append(remote)
    return remotes


def _to_fetch(missing: list[ModelFile]) -> list[ModelFile]:
    """The published files to fetch: a built file's sources (those not already cached)."""
    fetch = []
    for model_file in missing:
        parts = model_file.built_from or (model_file,)
        fetch += [p for p in parts if not model_file.built_from or hub_cached_path(p) is None]
    return fetch


def _build(spec: ModelSpec, built: ModelFile, meter: Meter, token: CancelToken) -> dict:
    """Write a built file (the T5 encoder) next to its downloaded sources, check it, then
    delete the sources from the cache; returns its index record."""
    from engine.store.removal import remove_from_hub_cache
    from engine.store.t5_encoder import config_layers, write_encoder

    sources = [hub_cached_path(part) for part in built.built_from]
    if None in sources:
        raise UserFacingError(f"{spec.title}: the files {built.filename} is made from are gone.")
    dest = Path(sources[0]).parent / built.filename  # the snapshot folder, beside the config
    meter.start_file(built.filename, len(spec.download_files) - 1, 0, None)
    meter.emit("verifying")
    sha256, size = write_encoder(sources, dest, token, config_layers(dest.parent))
    for part in built.built_from:
        remove_from_hub_cache(part)
    return {
        "source": "built",
        "path": str(dest),
        "sha256": sha256,
        "size": size,
        "repo_id": built.repo_id,
        "filename": built.filename,
        "built_from": [part.filename for part in built.built_from],
    }


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
    _check_downloadable(spec)
    missing = missing_files(spec)
    if not missing:
        return resolve_files(spec)
    fetch = _to_fetch(missing)  # empty when only files built from cached sources are missing
    if fetch and hub_offline():
        names = ", ".join(f.filename for f in missing)
        raise UserFacingError(
            f"offline: HF_HUB_OFFLINE is set and {spec.title} is missing {names}; "
            "unset it to download, or use Import from disk."
        )
    present_bytes = sum(f.size_bytes for f in spec.files if f not in missing)
    meter = Meter(spec, spec.download_bytes, present_bytes, progress)
    built = [f for f in missing if f.built_from]
    remotes = _look_up(spec, fetch, meter, token, endpoint)

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
    # A built file is written while its sources are still on disk.
    needed = sum(size - have for size, have in storage_sizes) + sum(f.size_bytes for f in built)
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
        meter.start_file(model_file.filename, spec.download_files.index(model_file), have, size)
        meter.emit("downloading")
        records[model_file.key] = _fetch_file(spec, remote, meter, token)
    record_files(records)  # the sources are usable (and resumable) even if a build fails
    for model_file in built:
        records = {model_file.key: _build(spec, model_file, meter, token)}
        record_files(records)
        forget_files([part.key for part in model_file.built_from])
    meter.emit("done")
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
