"""Lock files from pip's installation report: exact wheels, bundled packages left out."""

from __future__ import annotations

import hashlib

import pytest

from app.gpu_env import GpuEnvError
from app.gpu_env.lock import lock_from_report, read_lock, write_lock
from tests.gpu_env.helpers import make_wheel
from tests.gpu_env.wheel_server import serving


def item(name: str, version: str, url: str, sha: str | None = None) -> dict:
    info: dict = {"url": url}
    if sha:
        info["archive_info"] = {"hashes": {"sha256": sha}}
    return {"metadata": {"name": name, "version": version}, "download_info": info}


def test_report_becomes_a_lock_without_what_the_bundle_has(tmp_path):
    wheel = make_wheel(tmp_path, "nvidia_cublas")
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    torch_file = tmp_path / "torch.whl"
    torch_file.write_bytes(b"t" * 123)
    path = "/whl/cu126/torch-2.13.0%2Bcu126-cp311-cp311-linux_x86_64.whl"
    with serving() as server:
        server.files[path] = torch_file
        report = {
            "install": [
                item("torch", "2.13.0+cu126", server.url(path), "a" * 64),
                item("nvidia_cublas", "1.0", wheel.as_uri()),  # local: hashed from the file
                item("sympy", "1.14", "https://x.example/sympy-1.14-py3-none-any.whl", "b" * 64),
                item(
                    "Jinja2", "3.1.6", "https://x.example/jinja2-3.1.6-py3-none-any.whl", "c" * 64
                ),
            ]
        }
        lock = lock_from_report(report, "cu126", "linux-x86_64")
    assert lock.torch == "2.13.0+cu126"
    names = [w.filename for w in lock.wheels]
    assert names == [
        "nvidia_cublas-1.0-py3-none-any.whl",
        "torch-2.13.0+cu126-cp311-cp311-linux_x86_64.whl",
    ]
    assert lock.wheels[0].sha256 == sha and lock.wheels[0].size == wheel.stat().st_size
    assert lock.wheels[1].sha256 == "a" * 64 and lock.wheels[1].size == 123  # size from HEAD
    write_lock(lock, tmp_path / "cu126-linux-x86_64.json")
    assert read_lock(tmp_path / "cu126-linux-x86_64.json") == lock


def test_unhashed_remote_files_and_non_wheels_are_refused(tmp_path):
    no_hash = {
        "install": [item("torch", "2.13.0", "https://x.example/torch-2.13.0-cp311-none-any.whl")]
    }
    with pytest.raises(GpuEnvError, match="gives no sha256"):
        lock_from_report(no_hash, "cu126", "linux-x86_64")
    sdist = {
        "install": [item("torch", "2.13.0", "https://x.example/torch-2.13.0.tar.gz", "a" * 64)]
    }
    with pytest.raises(GpuEnvError, match="not a wheel"):
        lock_from_report(sdist, "cu126", "linux-x86_64")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(GpuEnvError, match="bad.json is unreadable"):
        read_lock(tmp_path / "bad.json")
