"""Batch upscaling throughput: images per minute for 512² → 2048² (×4) on the CPU.

Runs the real batch job (``BatchRequest`` through ``engine.pipelines.batch``: load, Lanczos in
strips, metadata, atomic save, journal) on photo-like 512² files, once per output format, and
reports images per minute end to end, plus the Lanczos resize alone for scale; then the same
batch with a model (default: the demo model, zero-shot) on ``--model-images`` files.

    python benchmarks/upscale.py [--images 8] [--formats png,jpeg] [--model demo|none]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def photo_like(side: int, seed: int):
    """Smooth shapes plus fine grain: compresses like a photo, unlike pure noise."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side].astype(np.float32) / side
    base = np.stack([np.sin(6 * x + seed), np.cos(5 * y - seed), np.sin(4 * (x + y))], -1)
    grain = rng.normal(0, 0.04, (side, side, 3))
    return (np.clip((base * 0.4 + 0.5 + grain), 0, 1) * 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--formats", default="png,jpeg")
    parser.add_argument("--model", default="demo", help="registry id, or none")
    parser.add_argument("--model-images", type=int, default=1)
    args = parser.parse_args()

    from PIL import Image

    from engine.api import BatchRequest, ModelChoice, UpscaleTarget
    from engine.pipelines.batch import run_batch
    from engine.pipelines.batch.upscalers import lanczos_upscaler
    from engine.runtime.cancel import CancelToken
    from engine.runtime.jobs import JobContext

    ctx = JobContext("bench", CancelToken(), lambda event: None, None)
    with tempfile.TemporaryDirectory() as folder:
        src = Path(folder) / "in"
        src.mkdir()
        pictures = [photo_like(args.size, i) for i in range(args.images)]
        for i, pixels in enumerate(pictures):
            Image.fromarray(pixels).save(src / f"photo{i}.jpg", quality=92)
        started = time.perf_counter()
        for pixels in pictures:
            lanczos_upscaler(pixels, UpscaleTarget(4), ctx)
        alone = time.perf_counter() - started
        print(f"Lanczos ×4 alone: {60 * args.images / alone:.0f} images/min")
        for fmt in args.formats.split(","):
            out = Path(folder) / f"out-{fmt}"
            request = BatchRequest((str(src),), str(out), UpscaleTarget(4), format=fmt)
            started = time.perf_counter()
            run_batch(request, ctx)
            elapsed = time.perf_counter() - started
            print(
                f"batch {args.size}→{args.size * 4} fast mode, {fmt}: "
                f"{60 * args.images / elapsed:.0f} images/min ({elapsed / args.images:.2f} s each)"
            )
        if args.model != "none":
            _model_run(args, src, Path(folder) / "out-model", ModelChoice(model_id=args.model))


def _model_run(args, src: Path, out: Path, choice) -> None:
    import torch

    from engine.api import BatchEntry, BatchRequest, UpscaleTarget
    from engine.pipelines.batch import run_batch
    from engine.runtime.cancel import CancelToken
    from engine.runtime.jobs import JobContext
    from engine.store.cache import ModelCache

    ctx = JobContext("bench", CancelToken(), lambda event: None, ModelCache())
    files = sorted(src.iterdir())[: args.model_images]
    warm = BatchRequest((BatchEntry(str(files[0])),), str(out / "warm"), UpscaleTarget(scale=None,
                        max_long_side=64), model=choice)  # fmt: skip
    run_batch(warm, ctx)  # the model load, not measured
    request = BatchRequest(tuple(BatchEntry(str(f)) for f in files), str(out), UpscaleTarget(4),
                           model=choice, format="jpeg")  # fmt: skip
    started = time.perf_counter()
    run_batch(request, ctx)
    elapsed = time.perf_counter() - started
    print(
        f"batch {args.size}→{args.size * 4} {choice.model_id} zero-shot ({torch.get_num_threads()}"
        f" threads): {60 * len(files) / elapsed:.2f} images/min ({elapsed / len(files):.1f} s each)"
    )


if __name__ == "__main__":
    main()
