"""The GUI path end to end: a demo-model in-paint of a square mask through the real window.

Drives ``MainWindow`` offscreen over a real engine (bridge + job controller + canvas): load the
photo, paint the mask, click Generate, wait for the variations, apply one. Times each stage and
the whole, and the ratio of a large photo to a 512² one measured in the same process.

    python benchmarks/gui_inpaint.py [--sizes 512x512 4000x3000] [--mask 100] [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def photo(width: int, height: int):
    """A smooth deterministic picture (a flat one would make colour matching trivial)."""
    import numpy as np

    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = (
        128 + 100 * np.sin(x / 97.0),
        128 + 100 * np.cos(y / 71.0),
        128 + 60 * np.sin((x + y) / 53.0),
    )
    return np.stack(channels, axis=-1).astype(np.uint8)


def mask_box(width: int, height: int, side: int) -> tuple[int, int, int, int]:
    x0, y0 = width // 2 - side // 2, height // 2 - side // 2
    return x0, y0, x0 + side, y0 + side


class GuiDriver:
    """One shown window over a real engine with the demo model."""

    def __init__(self) -> None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        os.environ.setdefault("FINESCALE_DATA_DIR", tempfile.mkdtemp(prefix="fs-bench-gui-"))
        from PySide6.QtWidgets import QApplication

        from app.engine_access import ModelEntry
        from app.engine_bridge import EngineBridge
        from app.main_window import MainWindow
        from engine.api import ModelChoice

        self.app = QApplication.instance() or QApplication([])
        self.bridge = EngineBridge.create()
        demo = ModelEntry("demo", ModelChoice(model_id="demo"), demo=True)
        self.window = MainWindow(self.bridge, models=[demo], autosave_delay_ms=600_000)
        self.window.resize(1280, 820)
        self.window.show()
        self.window.panel.samples.setValue(1)
        self.progress: list[float] = []
        self.bridge.scale_progress.connect(self._on_progress)

    def _on_progress(self, event) -> None:
        done = event.sample_index * event.num_scales + event.scale_index + 1
        self.progress.append(done / (event.num_samples * event.num_scales))

    def wait(self, signal, timeout_s: float = 300.0):
        """Spin the event loop until ``signal`` fires; returns its arguments."""
        got: list = []
        signal.connect(lambda *args: got.append(args))
        end = time.perf_counter() + timeout_s
        while not got:
            self.app.processEvents()
            if time.perf_counter() > end:
                raise TimeoutError("the job did not finish")
            time.sleep(0.001)
        return got[0]

    def run(self, width: int, height: int, side: int) -> dict[str, float]:
        """One load + mask + job + apply; seconds per stage."""
        window, times = self.window, {}
        picture = photo(width, height)
        t0 = time.perf_counter()
        window.document.load(picture)
        self.app.processEvents()
        times["load"] = time.perf_counter() - t0
        x0, y0, x1, y1 = mask_box(width, height, side)
        window.document.fill_rect((x0, y0), (x1, y1), True)
        self.app.processEvents()
        self.progress.clear()
        t0 = time.perf_counter()
        window.panel.generate_button.click()
        (finished,) = self.wait(self.bridge.job_finished)
        self.app.processEvents()
        times["job"] = time.perf_counter() - t0
        times["engine"] = finished.result.elapsed_s
        t0 = time.perf_counter()
        window.variations.apply_button.click()
        self.app.processEvents()
        times["apply"] = time.perf_counter() - t0
        times["total"] = times["job"] + times["apply"]
        return times

    def close(self) -> None:
        self.bridge.shutdown()  # the window is left to exit: closing it would ask to save


def parse_size(text: str) -> tuple[int, int]:
    width, height = text.lower().split("x")
    return int(width), int(height)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="+", default=["512x512", "4000x3000"])
    parser.add_argument("--mask", type=int, default=100, help="side of the square mask, px")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    driver = GuiDriver()
    sizes = [parse_size(s) for s in args.sizes]
    driver.run(*sizes[0], args.mask)  # warm-up: model load, first kernels
    best: dict[tuple[int, int], dict[str, float]] = {}
    for _ in range(args.reps):  # interleaved, so machine noise hits every size alike
        for size in sizes:
            times = driver.run(*size, args.mask)
            if size not in best or times["total"] < best[size]["total"]:
                best[size] = times
    driver.close()
    base = best[sizes[0]]["total"]
    print(f"GUI in-paint, demo model, {args.mask} px mask, best of {args.reps}")
    for (width, height), times in best.items():
        stages = "  ".join(f"{k} {v * 1000:6.0f} ms" for k, v in times.items())
        print(f"{width}x{height}: {stages}  ({times['total'] / base:4.2f}x)")


if __name__ == "__main__":
    main()
