"""Installer tests: minutes long, so outside the default ``pytest`` run (testpaths = tests).

Run them with ``installers/test-installers.sh`` (which also builds and checks the packages) or
``pytest installers/tests`` from the repository root with ``PYTHONPATH=$PWD``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.gpu_env.builds import platform_key
from app.gpu_env.lock import Lock, lock_from_report


@pytest.fixture(scope="session")
def stand_in(tmp_path_factory) -> tuple[Path, Lock]:
    """The CPU torch 2.13.0 wheel standing in for a CUDA one, and its lock made by pip."""
    folder = tmp_path_factory.mktemp("wheels")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "download", "--no-deps", "-d", folder, "torch==2.13.0"], check=True)
    report = folder.parent / "report.json"
    subprocess.run(
        [*pip, "install", "--dry-run", "--ignore-installed", "--only-binary=:all:"]
        + ["--target", folder.parent / "unused", "--report", report, "torch==2.13.0"],
        check=True,
    )
    lock = lock_from_report(json.loads(report.read_text()), "cu130", platform_key())
    return folder, lock
