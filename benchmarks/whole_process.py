"""`finescale generate` as a user runs it vs the official VAR code: whole processes, wall clock.

Both sides start a fresh Python, import torch, load the same released-format d16-shaped
``.pth`` files, sample 2 images (class 207, cfg 1.5, top-k 900, top-p 0.96) and write them as
PNG. The reference side is a small driver around the official ``build_vae_var`` +
``autoregressive_infer_cfg`` (one call per image, like ours). Runs alternate, so machine noise
hits both; the best of ``--reps`` is reported with the ratio.

    python benchmarks/whole_process.py --reference /path/to/FoundationVision-VAR [--reps 2]
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
sys.path.insert(0, str(ROOT))

from benchmarks.vs_reference import make_checkpoints  # noqa: E402

REFERENCE_DRIVER = """
import sys, torch
sys.path.insert(0, {reference!r})
from PIL import Image
from models import build_vae_var
vae, var = build_vae_var(device="cpu", patch_nums=(1, 2, 3, 4, 5, 6, 8, 10, 13, 16),
                         num_classes=1000, depth={depth}, shared_aln=False)
vae.load_state_dict(torch.load({vae!r}, map_location="cpu", weights_only=True), strict=True)
var.load_state_dict(torch.load({var!r}, map_location="cpu", weights_only=True), strict=True)
vae.eval(); var.eval()
for i in range({samples}):
    with torch.inference_mode():
        img = var.autoregressive_infer_cfg(B=1, label_B=207, g_seed=i, cfg=1.5, top_k=900,
                                           top_p=0.96)
    pixels = img[0].permute(1, 2, 0).mul(255).round().clamp(0, 255).byte().numpy()
    Image.fromarray(pixels).save({out!r} + f"_{{i + 1}}.png")
"""


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """Wall seconds and the child's peak RSS (MiB) of one process."""
    t0 = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[:3]} failed: {child.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def commands(reference: str, depth: int, samples: int, out: Path) -> dict[str, list[str]]:
    vae, var = make_checkpoints(depth)
    driver = REFERENCE_DRIVER.format(
        reference=reference, depth=depth, vae=str(vae), var=str(var), samples=samples,
        out=str(out / "ref"),
    )  # fmt: skip
    ours = [sys.executable, "-m", "engine.cli.main", "generate", "--vae", str(vae)]
    ours += ["--var", str(var), "--class", "207", "--cfg", "1.5", "--top-k", "900"]
    ours += ["--top-p", "0.96", "--samples", str(samples), "--overwrite"]
    ours += ["--out", str(out / "ours.png")]
    return {"reference": [sys.executable, "-c", driver], "finescale": ours}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reference", required=True, help="a FoundationVision/VAR checkout")
    parser.add_argument("--depth", type=int, default=16)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args(argv)
    out = Path(tempfile.mkdtemp(prefix="fs-whole-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.reps):
        for name, cmd in commands(args.reference, args.depth, args.samples, out).items():
            seconds, rss = timed(cmd, env)
            print(f"  {name}: {seconds:.1f} s", file=sys.stderr)
            if name not in best or seconds < best[name][0]:
                best[name] = (seconds, rss)
    base = best["reference"][0]
    print(f"whole process, d{args.depth}, {args.samples} images, best of {args.reps}")
    for name, (seconds, rss) in best.items():
        print(f"{name:>10}: {seconds:6.1f} s ({seconds / base:4.2f}x)  peak RSS {rss:5.0f} MiB")


if __name__ == "__main__":
    main()
