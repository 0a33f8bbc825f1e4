"""Opt-in speed/quality trade-offs (demo model or a released shape with random weights): time
and PSNR/SSIM against the exact path.

Each setting samples the same seeds as the exact path (class 0, cfg 1.5, top-k 900, top-p 0.96);
its images are compared with the exact ones, and its total time with the exact total measured
in the same run (settings interleaved per seed, best of ``--reps`` per seed).

    python benchmarks/tradeoffs.py [--seeds 8] [--reps 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {
    "exact": {},
    "CFG off, last scale": {"cfg_skip_last": 1},
    "CFG off, last 2 scales": {"cfg_skip_last": 2},
    "prune 30 %, 2 largest": {"prune_ratio": 0.3, "prune_scales": 2},
    "prune 50 %, 2 largest": {"prune_ratio": 0.5, "prune_scales": 2},
    "CFG off last 2 + prune 50 %": {"cfg_skip_last": 2, "prune_ratio": 0.5},
    "KV budget 50 %": {"kv_budget": 0.5},
    "KV budget 25 %": {"kv_budget": 0.25},
}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Wang et al. 2004 SSIM on the luma channel, 11x11 Gaussian window (sigma 1.5)."""
    x, y = (cv2.cvtColor(i, cv2.COLOR_RGB2GRAY).astype(np.float64) for i in (a, b))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z):
        return cv2.GaussianBlur(z, (11, 11), 1.5)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    num = (2 * mx * my + c1) * (2 * cxy + c2)
    return float(np.mean(num / ((mx * mx + my * my + c1) * (vx + vy + c2))))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--shape", default="demo", help="demo, or random weights: d16, d30, ...")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from benchmarks.__main__ import build
    from engine.api import Sampling
    from engine.models.family import Condition

    model = build(args.shape, "cpu", "fp32")
    base = Sampling(cfg=1.5, top_k=900, top_p=0.96)
    times = {name: 0.0 for name in SETTINGS}
    images: dict[str, list[np.ndarray]] = {name: [] for name in SETTINGS}
    model.decode(model.sample(Condition(class_label=0), base, 0).latent)  # warm-up
    for seed in range(args.seeds):
        for name, options in SETTINGS.items():
            best = float("inf")
            for _ in range(args.reps):
                t0 = time.perf_counter()
                sampled = model.sample(Condition(class_label=0), replace(base, **options), seed)
                image = model.decode(sampled.latent)
                best = min(best, time.perf_counter() - t0)
            times[name] += best
            images[name].append(image)
    print(f"{args.shape} model, {args.seeds} seeds, class 0, cfg 1.5, best of {args.reps} per seed")
    print("| setting | time vs exact | PSNR dB vs exact | SSIM vs exact |")
    print("|---|---|---|---|")
    for name in SETTINGS:
        pairs = list(zip(images[name], images["exact"], strict=True))
        p = np.mean([min(psnr(a, b), 99.0) for a, b in pairs])
        s = np.mean([ssim(a, b) for a, b in pairs])
        print(f"| {name} | {times[name] / times['exact']:.2f}x | {p:.1f} | {s:.3f} |")


if __name__ == "__main__":
    main()
