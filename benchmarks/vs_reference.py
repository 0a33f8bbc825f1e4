"""Finescale vs the official VAR code on the same d16-shaped checkpoint, same machine, one run.

Both load the same released-format ``.pth`` files from disk and sample one 256 px image
(cfg 1.5, top-k 900, top-p 0.96); each side runs in its own process, so peak RSS covers
loading and sampling. Ours runs with live previews on (the product path).

    python benchmarks/vs_reference.py --reference /path/to/FoundationVision-VAR-checkout

The reference checkout is read at run time only; nothing of it is part of this project.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CKPT_DIR = Path(os.environ.get("FINESCALE_BENCH_DIR", Path(tempfile.gettempdir()) / "fs-bench"))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_checkpoints(depth: int) -> tuple[Path, Path]:
    vae, var = CKPT_DIR / "vae_ch160v4096z32.pth", CKPT_DIR / f"var_d{depth}.pth"
    if vae.exists() and var.exists():
        return vae, var
    subprocess.run([sys.executable, __file__, "--make", str(depth)], check=True)
    return vae, var


def write_checkpoints(depth: int) -> None:
    sys.path.insert(0, str(ROOT))
    import torch

    from engine.models.var.transformer import VAR, VARConfig
    from engine.models.var.vqvae import VQVAE, VQVAEConfig

    CKPT_DIR.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    with torch.no_grad():
        var = VAR(VARConfig(depth=depth, embed_dim=64 * depth, num_heads=depth))
        var.head.weight.mul_(0.02)
        torch.save(VQVAE(VQVAEConfig()).state_dict(), CKPT_DIR / "vae_ch160v4096z32.pth")
        torch.save(var.state_dict(), CKPT_DIR / f"var_d{depth}.pth")


def run_reference(reference: str, depth: int, reps: int) -> dict:
    sys.path.insert(0, reference)
    import torch
    from models import build_vae_var

    vae_path, var_path = make_checkpoints(depth)
    t0 = time.perf_counter()
    vae, var = build_vae_var(device="cpu", patch_nums=(1, 2, 3, 4, 5, 6, 8, 10, 13, 16),
                             num_classes=1000, depth=depth, shared_aln=False)  # fmt: skip
    vae.load_state_dict(torch.load(vae_path, map_location="cpu", weights_only=True), strict=True)
    var.load_state_dict(torch.load(var_path, map_location="cpu", weights_only=True), strict=True)
    vae.eval(), var.eval()
    load_s = time.perf_counter() - t0
    times = []
    for rep in range(reps + 1):
        t0 = time.perf_counter()
        with torch.inference_mode():
            var.autoregressive_infer_cfg(B=1, label_B=207, g_seed=rep, cfg=1.5, top_k=900,
                                         top_p=0.96)  # fmt: skip
        if rep:
            times.append(time.perf_counter() - t0)
    return {"name": "reference fp32", "load_s": load_s, "s_per_image": min(times),
            "peak_rss_mib": peak_rss_mib()}  # fmt: skip


def run_ours(dtype: str, depth: int, reps: int) -> dict:
    sys.path.insert(0, str(ROOT))
    import torch

    from engine.imaging.preview import decode_preview
    from engine.samplers.var import sample_scales
    from engine.store.loaders import load_model

    vae_path, var_path = make_checkpoints(depth)
    t0 = time.perf_counter()
    model = load_model(str(vae_path), str(var_path), dtype=dtype)
    load_s = time.perf_counter() - t0
    patch_nums = model.patch_nums

    def preview(si, f_hat, ids):
        if si < len(patch_nums) - 1:
            decode_preview(model.vqvae, f_hat, patch_nums[si])

    times = []
    for rep in range(reps + 1):
        t0 = time.perf_counter()
        out = sample_scales(model.var, model.vqvae.quantize, torch.tensor([207]), cfg=1.5,
                            top_k=900, top_p=0.96, on_scale=preview,
                            generator=torch.Generator().manual_seed(rep))  # fmt: skip
        with torch.inference_mode():
            model.vqvae.decode(out.f_hat)
        if rep:
            times.append(time.perf_counter() - t0)
    return {"name": f"finescale {dtype}", "load_s": load_s, "s_per_image": min(times),
            "peak_rss_mib": peak_rss_mib()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reference", help="path to a FoundationVision/VAR checkout")
    parser.add_argument("--depth", type=int, default=16)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--make", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make:
        write_checkpoints(args.make)
        return
    if args.child:
        if args.child == "reference":
            row = run_reference(args.reference, args.depth, args.reps)
        else:
            row = run_ours(args.child, args.depth, args.reps)
        print(json.dumps(row))
        return
    make_checkpoints(args.depth)
    sides = (["reference"] if args.reference else []) + ["fp32", "bf16"]
    rows = []
    for side in sides:
        cmd = [sys.executable, __file__, "--child", side, "--depth", str(args.depth)]
        cmd += ["--reps", str(args.reps)]
        if args.reference:
            cmd += ["--reference", args.reference]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    base = rows[0]
    print(f"d{args.depth} 256px, B=1, best of {args.reps}, {os.cpu_count()} cores; "
          f"ratios vs {base['name']}")  # fmt: skip
    for row in rows:
        time_ratio = row["s_per_image"] / base["s_per_image"]
        rss_ratio = row["peak_rss_mib"] / base["peak_rss_mib"]
        print(
            f"{row['name']:>16}: {row['s_per_image']:6.2f} s/image ({time_ratio:4.2f}x)  "
            f"peak RSS {row['peak_rss_mib']:6.0f} MiB ({rss_ratio:4.2f}x)  "
            f"load {row['load_s']:5.1f} s"
        )


if __name__ == "__main__":
    main()
