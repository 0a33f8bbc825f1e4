"""Chunked hashes agree with hashlib and git, report progress and stay cancellable."""

from __future__ import annotations

import hashlib

import pytest

from engine.runtime.cancel import CancelToken, JobCancelled
from engine.store import hashing


def test_sha256_matches_hashlib_and_reports_each_chunk(tmp_path, monkeypatch):
    monkeypatch.setattr(hashing, "CHUNK", 1000)
    data = bytes(range(256)) * 20  # 5120 bytes: six chunks
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    seen = []
    digest = hashing.sha256_file(path, lambda done, total: seen.append((done, total)))
    assert digest == hashlib.sha256(data).hexdigest()
    assert [done for done, _ in seen] == [1000, 2000, 3000, 4000, 5000, 5120]
    named = []
    assert hashing.sha256_of(str(path), lambda *a: named.append(a)) == digest
    assert named[-1] == ("f.bin", 5120, 5120)


def test_git_blob_sha1_is_gits_object_id(tmp_path):
    path = tmp_path / "hello.txt"
    path.write_bytes(b"hello\n")
    assert hashing.git_blob_sha1(path) == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_hashing_stops_when_cancelled(tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * 10)
    token = CancelToken()
    token.cancel()
    with pytest.raises(JobCancelled):
        hashing.sha256_file(path, check_cancelled=token.raise_if_cancelled)
