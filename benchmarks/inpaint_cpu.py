"""In-painting cost vs plain generation + one VQVAE encode, same d16-sized model, one run.

In-painting adds to plain generation: one encode of the context window, the teacher-forcing
override per scale, resizing, colour matching and compositing. The target is <= 1.15x.

    python benchmarks/inpaint_cpu.py [--depth 16] [--reps 2] [--size 1024]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--depth", type=int, default=16)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--size", type=int, default=1024, help="photo side in pixels")
    args = parser.parse_args()

    import numpy as np
    import torch

    from engine.api import Sampling
    from engine.imaging.tensors import image_to_tensor
    from engine.models.var.family import VarModel
    from engine.models.var.transformer import VAR, VARConfig
    from engine.models.var.vqvae import VQVAE, VQVAEConfig
    from engine.pipelines.common import sample_one
    from engine.pipelines.inpaint import inpaint_variations
    from engine.runtime.cancel import CancelToken
    from engine.runtime.jobs import JobContext

    torch.manual_seed(0)
    with torch.no_grad():
        vqvae = VQVAE(VQVAEConfig()).eval()
        d = args.depth
        var = VAR(VARConfig(depth=d, embed_dim=64 * d, num_heads=d)).eval()
        var.head.weight.mul_(0.02)
    model = VarModel(vqvae, var, torch.device("cpu"), torch.float32, f"d{d}")
    ctx = JobContext("bench", CancelToken(), lambda event: None, None)
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)
    mask = np.zeros(photo.shape[:2], bool)
    quarter = args.size // 4
    mask[quarter : 2 * quarter, quarter : 2 * quarter] = True
    sampling = Sampling(cfg=3.0, top_k=900, top_p=0.95, seed=0)
    window = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)

    def plain() -> None:
        with torch.inference_mode():
            vqvae.encode_ids(image_to_tensor(window))
        sample_one(ctx, model, 1000, sampling, 0, 0, 1)

    def inpaint() -> None:
        inpaint_variations(ctx, model, photo, mask, class_label=1000, sampling=sampling,
                           samples=1, feather_px=8, color_match=True)  # fmt: skip

    results = {}
    for name, job in (("plain + encode", plain), ("inpaint", inpaint)):
        job()  # warm-up
        times = []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            job()
            times.append(time.perf_counter() - t0)
        results[name] = min(times)
    base = results["plain + encode"]
    print(f"d{d}, 256 px window in a {args.size}x{args.size} photo, unconditional, "
          f"best of {args.reps}, {torch.get_num_threads()} threads")  # fmt: skip
    for name, seconds in results.items():
        print(f"{name:>15}: {seconds:6.2f} s  ({seconds / base:4.2f}x)")


if __name__ == "__main__":
    main()
