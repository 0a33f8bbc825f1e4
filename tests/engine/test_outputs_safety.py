"""Outputs are checked before any work, inputs are never overwritten, files are created
0666 & ~umask, and no temporary survives SIGTERM, Ctrl+C or (after the next run) kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.cli.main import main
from engine.imaging.outputs import sweep_stale_temps
from engine.imaging.saving import save_image
from engine.runtime.cancel import UserFacingError

ROOT = Path(__file__).resolve().parents[2]


def _photo(tmp_path: Path, size=(40, 30), name="photo.png") -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / name
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def _mask(tmp_path: Path, size=(40, 30), name="mask.png") -> Path:
    mask = np.zeros((size[1], size[0]), np.uint8)
    mask[5:10, 5:10] = 255
    path = tmp_path / name
    Image.fromarray(mask).save(path)
    return path


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli.main", *args],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT,
    )  # fmt: skip


def test_out_equal_to_the_mask_is_refused_even_with_overwrite(tmp_path, capsys):
    photo, mask = _photo(tmp_path), _mask(tmp_path)
    before = mask.read_bytes()
    code = main(["inpaint", "--image", str(photo), "--mask", str(mask), "--out", str(mask),
                 "--overwrite", "--model", "quick-fill"])  # fmt: skip
    assert code == 1
    assert "mask.png" in capsys.readouterr().err
    assert mask.read_bytes() == before


def test_a_numbered_output_that_is_an_input_is_refused(tmp_path, capsys):
    photo = _photo(tmp_path, name="out_2.png")
    before = photo.read_bytes()
    args = ["--samples", "2", "--out", str(tmp_path / "out.png"), "--overwrite"]
    code = main(["inpaint", "--image", str(photo), "--mask", str(_mask(tmp_path)), *args,
                 "--model", "quick-fill"])  # fmt: skip
    assert code == 1 and "one of the inputs" in capsys.readouterr().err
    assert photo.read_bytes() == before


@pytest.mark.parametrize(
    "out, message",
    [("missing/o.png", "does not exist"), ("o.gif", "'.gif'"), ("o", "no extension")],
)
def test_bad_out_is_refused_before_the_model_is_loaded(tmp_path, capsys, out, message):
    started = time.perf_counter()
    code = main(["generate", "--vae", str(tmp_path / "none.pth"), "--var", "x.pth",
                 "--out", str(tmp_path / out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and message in err, err
    assert "none.pth" not in err  # the model was never opened
    assert time.perf_counter() - started < 5


def test_saved_files_are_created_0666_minus_umask(tmp_path):
    old = os.umask(0o022)
    try:
        save_image(np.zeros((4, 4, 3), np.uint8), tmp_path / "a.png")
        os.umask(0o002)
        save_image(np.zeros((4, 4, 3), np.uint8), tmp_path / "b.png")
    finally:
        os.umask(old)
    assert (tmp_path / "a.png").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.png").stat().st_mode & 0o777 == 0o664


def test_sweep_removes_only_temporaries_of_dead_processes(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".out.png.{dead.pid}-0123abcd.part"
    alive = tmp_path / f".out.png.{os.getppid()}-0123abcd.part"
    legacy_old = tmp_path / ".out_1.png.0123456789ab.part"
    legacy_new = tmp_path / ".out_2.png.0123456789ab.part"
    other = tmp_path / ".notes.part"
    for path in (stale, alive, legacy_old, legacy_new, other):
        path.write_bytes(b"x")
    os.utime(legacy_old, (time.time() - 3600, time.time() - 3600))
    removed = sweep_stale_temps(str(tmp_path))
    assert sorted(removed) == sorted([str(stale), str(legacy_old)])
    assert alive.exists() and legacy_new.exists() and other.exists()


def _big_job(tmp_path: Path) -> list[str]:
    """An in-paint whose save takes long enough to be interrupted (a large noisy PNG)."""
    photo, mask = _photo(tmp_path, (2500, 2500)), _mask(tmp_path, (2500, 2500))
    return ["inpaint", "--image", str(photo), "--mask", str(mask), "--model", "quick-fill",
            "--out", str(tmp_path / "out" / "result.png")]  # fmt: skip


def _start_and_wait_for_temp(args: list[str], folder: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "engine.cli.main", *args]
    pipe = subprocess.PIPE
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=pipe, stderr=pipe)
    deadline = time.monotonic() + 120
    while not list(folder.glob(".*.part")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the save never started"
        time.sleep(0.005)
    return process


@pytest.mark.slow
def test_sigterm_during_save_leaves_nothing(tmp_path):
    (tmp_path / "out").mkdir()
    process = _start_and_wait_for_temp(_big_job(tmp_path), tmp_path / "out")
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert b"Traceback" not in err
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.slow
def test_kill_9_during_save_is_swept_by_the_next_run(tmp_path):
    (tmp_path / "out").mkdir()
    process = _start_and_wait_for_temp(_big_job(tmp_path), tmp_path / "out")
    process.kill()
    process.wait()
    assert list((tmp_path / "out").glob(".*.part")), "kill -9 leaves its temporary"
    photo, mask = _photo(tmp_path, name="small.png"), _mask(tmp_path, name="small_mask.png")
    result = _cli("inpaint", "--image", str(photo), "--mask", str(mask), "--model", "quick-fill",
                  "--out", str(tmp_path / "out" / "next.png"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["next.png"]


def test_disk_full_part_way_says_what_was_saved(tmp_path):
    """RLIMIT_FSIZE makes the second, larger file fail with EFBIG, as a full disk would."""
    script = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))\n"
        "import numpy as np\n"
        "from engine.api import JobResult, Variation\n"
        "from engine.cli.common import save_variations\n"
        "from engine.runtime.cancel import UserFacingError\n"
        "flat = np.zeros((50, 50, 3), np.uint8)\n"
        "noise = np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)\n"
        "result = JobResult((Variation(flat, 0), Variation(noise, 1)), 0.0)\n"
        "try:\n"
        f"    save_variations(result, {str(tmp_path / 's.png')!r})\n"
        "except UserFacingError as exc:\n"
        "    print(exc, file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=60)  # fmt: skip
    assert "s_2.png: the disk is full" in done.stderr, done.stderr
    assert "Saved before that:" in done.stderr and "s_1.png" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s_1.png"]


def test_save_image_refuses_a_protected_input(tmp_path):
    photo, mask = _photo(tmp_path), _mask(tmp_path)
    with pytest.raises(UserFacingError, match="one of the inputs"):
        save_image(np.zeros((4, 4, 3), np.uint8), mask, overwrite=True, protected=[photo, mask])
