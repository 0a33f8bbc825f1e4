"""Time per image, peak RSS and preview share for a d16-sized random VAR on the CPU.

Each configuration runs in its own subprocess so peak RSS is per configuration. Usage:
    python benchmarks/generate_cpu.py [--depth 16] [--reps 2] [--dtypes fp32 bf16]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(depth: int, dtype: str, reps: int) -> dict:
    sys.path.insert(0, str(ROOT))
    import torch

    from engine.imaging.preview import decode_preview
    from engine.models.var.transformer import VAR, VARConfig
    from engine.models.var.vqvae import VQVAE, VQVAEConfig
    from engine.samplers.var import sample_scales

    torch.manual_seed(0)
    with torch.no_grad():
        vqvae = VQVAE(VQVAEConfig()).eval()
        var = VAR(VARConfig(depth=depth, embed_dim=64 * depth, num_heads=depth)).eval()
        var.head.weight.mul_(0.02)
    if dtype != "fp32":
        var.set_block_dtype({"bf16": torch.bfloat16, "fp16": torch.float16}[dtype])
    build_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    totals, preview_times = [], []
    for rep in range(reps + 1):  # the first run warms up kernels and is not counted
        spent = [0.0]

        def on_scale(si, f_hat, ids, spent=spent):
            if si < len(var.cfg.patch_nums) - 1:
                t0 = time.perf_counter()
                decode_preview(vqvae, f_hat, var.cfg.patch_nums[si])
                spent[0] += time.perf_counter() - t0

        t0 = time.perf_counter()
        out = sample_scales(
            var, vqvae.quantize, torch.tensor([207]), cfg=1.5, top_k=900, top_p=0.96,
            generator=torch.Generator().manual_seed(rep), on_scale=on_scale,
        )  # fmt: skip
        with torch.inference_mode():
            vqvae.decode(out.f_hat)
        if rep:
            totals.append(time.perf_counter() - t0)
            preview_times.append(spent[0])
    return {
        "depth": depth,
        "dtype": dtype,
        "threads": torch.get_num_threads(),
        "seconds_per_image": min(totals),
        "preview_share": preview_times[totals.index(min(totals))] / min(totals),
        "rss_after_build_mib": build_rss,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--depth", type=int, default=16)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.depth, args.child, args.reps)))
        return
    rows = []
    for dtype in args.dtypes:
        cmd = [sys.executable, __file__, "--child", dtype, "--depth", str(args.depth)]
        cmd += ["--reps", str(args.reps)]
        rows.append(json.loads(subprocess.run(cmd, check=True, capture_output=True).stdout))
    base = rows[0]["seconds_per_image"]
    print(f"VAR-d{args.depth} 256px, B=1, cfg 1.5, top-k 900, top-p 0.96 (best of {args.reps})")
    for row in rows:
        print(
            f"{row['dtype']:>5}: {row['seconds_per_image']:6.2f} s/image "
            f"({row['seconds_per_image'] / base:4.2f}x fp32)  previews {row['preview_share']:5.1%}"
            f"  peak RSS {row['peak_rss_mib']:6.0f} MiB"
            f" (after build {row['rss_after_build_mib']:.0f})  threads {row['threads']}"
        )


if __name__ == "__main__":
    main()
