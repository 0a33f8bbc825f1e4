"""A batch process killed with SIGKILL at several moments, and one that fills the disk."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.batch_files import leftovers

ROOT = Path(__file__).resolve().parents[2]
COUNT = 5


def _inputs(folder: Path, count: int, side: int) -> list[Path]:
    folder.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):  # noise does not compress: each save takes a while
        path = folder / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (side, side * 3 // 2, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def _command(src: Path, out: Path) -> list[str]:
    cli = [sys.executable, "-m", "engine.cli.main", "upscale", str(src), "--fast"]
    return [*cli, "--out", str(out)]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _journal(out: Path) -> list[dict]:
    records = []
    for path in (out / ".finescale-batch").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
    return records


def _kill_when(out: Path, src: Path, moment) -> bool:
    """Start a batch, SIGKILL it when ``moment(out)`` holds; False if it ended first."""
    process = subprocess.Popen(_command(src, out), env=_env(), stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if moment(out):
                process.send_signal(signal.SIGKILL)
                process.wait()
                return True
            time.sleep(0.001)
        return False
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _assert_outputs_valid(out: Path, side: int) -> list[Path]:
    outputs = sorted(out.glob("img*_x4.png"))
    for path in outputs:
        with Image.open(path) as im:
            im.load()
            assert im.size == (side * 6, side * 4)
    return outputs


def test_sigkill_at_several_moments_then_the_rerun_finishes(tmp_path):
    side = 200
    src = tmp_path / "in"
    _inputs(src, COUNT, side)
    out = tmp_path / "out"
    moments = (
        lambda o: any(r["event"] == "start" for r in _journal(o)),  # during the first upscale
        lambda o: bool(leftovers(o)),  # while a temporary is being written
        lambda o: sum(r["event"] == "done" for r in _journal(o)) >= 3,  # between files
    )
    killed = 0
    for moment in moments:
        killed += _kill_when(out, src, moment)
        _assert_outputs_valid(out, side)  # whatever is under a final name is complete
    assert killed == len(moments)
    rerun = subprocess.run(_command(src, out), env=_env(), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert leftovers(out) == []
    assert len(_assert_outputs_valid(out, side)) == COUNT
    assert "done in an earlier run" in rerun.stderr


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare to mount a small disk")
def test_a_full_disk_stops_the_batch_cleanly(tmp_path):
    side = 60
    src = tmp_path / "in"
    _inputs(src, 6, side)  # each output: 360 × 240 × 3 noise ≈ 260 kB of PNG
    out = tmp_path / "small_disk"
    out.mkdir()
    check = (
        "import json,os,sys; from PIL import Image; o=sys.argv[1]; "
        "names=sorted(n for n in os.listdir(o) if not n.startswith('.fin')); "
        "[Image.open(os.path.join(o,n)).load() for n in names if n.endswith('_x4.png')]; "
        "print(json.dumps(names))"
    )
    script = (
        f"mount -t tmpfs -o size=500k tmpfs {out} || exit 99; "
        f'{" ".join(_command(src, out))}; echo rc=$?; {sys.executable} -c "{check}" {out}'
    )
    result = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script], env=_env(), capture_output=True, text=True
    )
    if result.returncode == 99 or "Operation not permitted" in result.stderr:
        pytest.skip("this machine does not allow a private mount")
    assert "rc=1" in result.stdout, result.stderr
    names = json.loads(result.stdout.strip().splitlines()[-1])
    assert "disk is full" in result.stderr and "stopped:" in result.stderr
    assert [n for n in names if n.endswith(".part")] == []
    fitted = len(names)  # what fitted is there, complete (each one loaded above)
    assert 1 <= fitted < 5
    assert f"{fitted + 1}/6 img{fitted}.png FAILED" in result.stderr
    assert f"{fitted + 2}/6" not in result.stderr  # the batch stopped there
