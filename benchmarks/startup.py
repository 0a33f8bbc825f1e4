"""Seconds from launching ``python -m app`` to a shown window whose event loop runs.

The app is started offscreen with a fresh data folder and ``--exit-when-shown``; the time is
wall clock from the launch to its "shown" line. Best of ``--reps``; also reports how long a bare
``import torch`` takes in the same run, the cost the window no longer waits for.

    python benchmarks/startup.py [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def time_to_line(cmd: list[str], line: str, env: dict) -> float:
    t0 = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    for raw in child.stdout:
        if raw.decode().strip() == line:
            seconds = time.perf_counter() - t0
            break
    else:
        raise RuntimeError(f"{cmd} never printed {line!r}")
    child.wait(120)
    return seconds


def measure(reps: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    best = {"window shown": float("inf"), "import torch": float("inf")}
    for _ in range(reps):
        env["FINESCALE_DATA_DIR"] = tempfile.mkdtemp(prefix="fs-start-")
        app = [sys.executable, "-m", "app", "--exit-when-shown"]
        best["window shown"] = min(best["window shown"], time_to_line(app, "shown", env))
        torch = [sys.executable, "-c", "import torch; print('shown', flush=True)"]
        best["import torch"] = min(best["import torch"], time_to_line(torch, "shown", env))
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    best = measure(args.reps)
    print(f"start-up, offscreen, best of {args.reps}")
    for name, seconds in best.items():
        print(f"{name:>13}: {seconds:5.2f} s")


if __name__ == "__main__":
    main()
