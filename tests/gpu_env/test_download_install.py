"""Resumable verified downloads over real HTTP, the offline folder, and unpacking wheels."""

from __future__ import annotations

import dataclasses
import os

import pytest

from app.gpu_env import GpuEnvError
from app.gpu_env.download import download, from_folder
from app.gpu_env.wheels import install_wheel, unpacked_size
from tests.gpu_env.helpers import make_wheel, wheel_entry
from tests.gpu_env.wheel_server import serving


@pytest.fixture
def big_file(tmp_path):
    path = tmp_path / "src" / "big-1.0-py3-none-any.whl"
    path.parent.mkdir()
    path.write_bytes(os.urandom(3_000_000))
    return path


def test_interrupted_download_resumes_with_a_range_request(tmp_path, big_file):
    with serving() as server:
        server.files["/w/big.whl"] = big_file
        server.drop_after["/w/big.whl"] = 1_200_000
        wheel = wheel_entry(big_file, server.url("/w/big.whl"))
        seen: list[tuple[int, int]] = []
        with pytest.raises(GpuEnvError, match="Retry continues where it stopped"):
            download(wheel, tmp_path / "dl", lambda name, done, total: seen.append((done, total)))
        part = tmp_path / "dl" / (wheel.filename + ".part")
        assert part.stat().st_size == 1_200_000
        done = download(wheel, tmp_path / "dl", lambda n, d, t: seen.append((d, t)))
    assert server.ranges == ["bytes=1200000-"]
    assert done.read_bytes() == big_file.read_bytes() and not part.exists()
    assert seen[-1] == (3_000_000, 3_000_000)


def test_a_damaged_download_is_refused_and_not_kept(tmp_path, big_file):
    with serving() as server:
        server.files["/w/big.whl"] = big_file
        wheel = dataclasses.replace(
            wheel_entry(big_file, server.url("/w/big.whl")), sha256="0" * 64
        )
        with pytest.raises(GpuEnvError, match="sha256 mismatch"):
            download(wheel, tmp_path / "dl")
    assert list((tmp_path / "dl").iterdir()) == []


def test_unreachable_server_is_a_plain_message(tmp_path, big_file):
    wheel = wheel_entry(big_file, "http://127.0.0.1:9/nothing.whl")
    with pytest.raises(GpuEnvError, match=r"Downloading big-1\.0.* stopped"):
        download(wheel, tmp_path / "dl")


def test_offline_folder_verifies_each_wheel(tmp_path, big_file):
    wheel = wheel_entry(big_file, "https://example.invalid/big.whl")
    assert from_folder(wheel, big_file.parent) == big_file
    with pytest.raises(GpuEnvError, match=f"missing from {tmp_path}"):
        from_folder(wheel, tmp_path)
    big_file.write_bytes(b"short")
    with pytest.raises(GpuEnvError, match="has 5 bytes"):
        from_folder(wheel, big_file.parent)


def test_install_wheel_moves_platlib_up_keeps_modes_and_skips_scripts(tmp_path):
    wheel = make_wheel(tmp_path)
    site = tmp_path / "site"
    assert install_wheel(wheel, site) == 3
    assert (site / "tiny_cuda" / "__init__.py").read_text() == "VALUE = 42\n"
    lib = site / "tiny_cuda_libs" / "libfake.so"
    assert lib.read_bytes() == b"\x7fELF fake" and lib.stat().st_mode & 0o111
    assert not (site / "tool").exists() and not (site / "tiny_cuda-1.0.data").exists()
    assert unpacked_size(wheel) == 11 + 9 + 10 + 29  # every member: an upper bound for space


def test_install_wheel_refuses_paths_outside_its_folder(tmp_path):
    wheel = make_wheel(tmp_path, "evil", {"../outside.py": b"x"})
    with pytest.raises(GpuEnvError, match="points outside"):
        install_wheel(wheel, tmp_path / "site")
    assert not (tmp_path / "outside.py").exists()
    with pytest.raises(GpuEnvError, match="not a valid wheel"):
        (tmp_path / "bad.whl").write_bytes(b"not a zip")
        install_wheel(tmp_path / "bad.whl", tmp_path / "site")
