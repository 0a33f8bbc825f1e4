"""scripts/qt_libs.py and run.sh's start-up check: missing Qt system libraries, named as the
Debian packages to install, on a saved ``ldd`` listing from a fresh Debian machine."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "qt_libs.py"

FRESH_DEBIAN_LDD = """\
\tlinux-vdso.so.1 (0x00007ffc1a5e8000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f2336e77000)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-util.so.1 => /lib/x86_64-linux-gnu/libxcb-util.so.1 (0x00007f2336d83000)
\tlibxcb-keysyms.so.1 => not found
\tlibxkbcommon-x11.so.0 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f23361d6000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
"""
ALL_FOUND_LDD = "\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f23361d6000)\n"


def load_module():
    spec = importlib.util.spec_from_file_location("qt_libs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_missing_libraries_are_listed_once_in_ldd_order():
    qt_libs = load_module()
    assert qt_libs.missing_libraries(FRESH_DEBIAN_LDD) == [
        "libxcb-cursor.so.0",
        "libxcb-icccm.so.4",
        "libxcb-keysyms.so.1",
        "libxkbcommon-x11.so.0",
    ]
    assert qt_libs.missing_libraries(ALL_FOUND_LDD) == []


@pytest.mark.parametrize(
    ("soname", "package"),
    [
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
        ("libxcb-cursor.so.0", "libxcb-cursor0"),
        ("libxcb-render-util.so.0", "libxcb-render-util0"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libX11-xcb.so.1", "libx11-xcb1"),
        ("libEGL.so.1", "libegl1"),
        ("libdbus-1.so.3", "libdbus-1-3"),
        ("libfontconfig.so.1", "libfontconfig1"),
        ("libglib-2.0.so.0", "libglib2.0-0"),
        ("libz.so.1", "zlib1g"),
    ],
)
def test_sonames_map_to_debian_packages(soname, package):
    assert load_module().debian_package(soname) == package


def run_checker(tmp_path: Path, listing: str) -> subprocess.CompletedProcess:
    saved = tmp_path / "ldd.txt"
    saved.write_text(listing)
    command = [sys.executable, str(SCRIPT), "--ldd-output", str(saved)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_checker_prints_the_packages_and_names_the_files(tmp_path):
    done = run_checker(tmp_path, FRESH_DEBIAN_LDD)
    assert done.returncode == 3
    assert done.stdout.split() == [
        "libxcb-cursor0",
        "libxcb-icccm4",
        "libxcb-keysyms1",
        "libxkbcommon-x11-0",
    ]
    assert "libxcb-icccm.so.4" in done.stderr and "Traceback" not in done.stderr
    clean = run_checker(tmp_path, ALL_FOUND_LDD)
    assert (clean.returncode, clean.stdout) == (0, "")


def test_checker_on_this_machines_plugin_agrees_with_ldd():
    qt_libs = load_module()
    plugin = qt_libs.plugin_path()
    if plugin is None or shutil.which("ldd") is None:
        pytest.skip("no PySide6 xcb plugin or no ldd here")
    expected = qt_libs.debian_packages(qt_libs.missing_libraries(qt_libs.run_ldd(plugin)))
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert done.stdout.split() == expected
    assert done.returncode == (3 if expected else 0)


FAKE_PYTHON = """#!/usr/bin/env bash
# Stands in for the venv's python: pip is a no-op, the checker reads a saved listing.
case "$1" in
  -m) [ "$2" = app ] && echo "APP STARTED"; exit 0 ;;
  scripts/qt_libs.py)
    [ "$FAKE_LDD" = crash ] && { echo "Traceback: boom" >&2; exit 1; }
    listing="$FAKE_LDD"; [ -e "$FAKE_STATE/installed" ] && listing="$FAKE_CLEAN"
    exec "$REAL_PYTHON" scripts/qt_libs.py --ldd-output "$listing" ;;
esac
"""
FAKE_APT = """#!/usr/bin/env bash
echo "$@" >> "$FAKE_STATE/apt.log"; touch "$FAKE_STATE/installed"
"""


def run_script(tmp_path: Path, as_root: bool, listing: str) -> tuple:
    """run.sh from a copy of scripts/, with a fake venv python, apt-get and id."""
    tree = tmp_path / "tree"
    (tree / "scripts").mkdir(parents=True)
    for name in ("run.sh", "qt_libs.py"):
        shutil.copy(ROOT / "scripts" / name, tree / "scripts" / name)
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    (tree / ".venv" / "bin").mkdir(parents=True)
    bin_dir.mkdir()
    state.mkdir()
    fakes = {
        tree / ".venv" / "bin" / "python": FAKE_PYTHON,
        bin_dir / "apt-get": FAKE_APT,
        bin_dir / "id": f"#!/bin/sh\necho {0 if as_root else 1000}\n",
    }
    for path, text in fakes.items():
        path.write_text(text)
        path.chmod(0o755)
    (tmp_path / "ldd.txt").write_text(listing)
    (tmp_path / "clean.txt").write_text(ALL_FOUND_LDD)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_LDD": "crash" if listing == "crash" else str(tmp_path / "ldd.txt"),
        "FAKE_CLEAN": str(tmp_path / "clean.txt"),
        "FAKE_STATE": str(state),
        "REAL_PYTHON": sys.executable,
    }
    env.pop("QT_QPA_PLATFORM", None)
    done = subprocess.run(
        ["bash", str(tree / "scripts" / "run.sh")], capture_output=True, text=True, env=env
    )
    return done, state


@pytest.mark.parametrize("as_root", [False, True])
def test_run_sh_names_or_installs_the_packages_before_starting(tmp_path, as_root):
    done, state = run_script(tmp_path, as_root, FRESH_DEBIAN_LDD)
    packages = "libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0"
    if as_root:
        assert done.returncode == 0, done.stderr
        assert (state / "apt.log").read_text().split() == [
            "install", "-y", "--no-install-recommends", *packages.split()
        ]  # fmt: skip
        assert "APP STARTED" in done.stdout
    else:
        assert done.returncode == 1
        assert f"sudo apt-get install {packages}" in done.stderr
        assert "libxcb-icccm.so.4" in done.stderr
        assert "APP STARTED" not in done.stdout
        assert not (state / "apt.log").exists()


def test_run_sh_starts_when_nothing_is_missing_or_the_check_itself_fails(tmp_path):
    done, state = run_script(tmp_path / "clean", False, ALL_FOUND_LDD)
    assert (done.returncode, done.stderr) == (0, "") and "APP STARTED" in done.stdout
    done, state = run_script(tmp_path / "crash", True, "crash")
    assert done.returncode == 0 and "APP STARTED" in done.stdout
    assert "starting anyway" in done.stderr and not (state / "apt.log").exists()
