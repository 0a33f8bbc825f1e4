"""One benchmark table: task x model shape x photo size, each cell in its own process.

    python -m benchmarks [--shapes demo d16] [--sizes 512 12mp] [--tasks generate inpaint]
                         [--device cpu] [--dtype fp32] [--reps 2]

Per cell: seconds per job (best of ``--reps`` after a warm-up), peak RSS of the process (and
the CUDA peak on a GPU), the share of the job spent making previews, and a ratio measured in
the same run: a 12 MP in-paint against the 512² one of the same shape ("cost follows the
edit"). Shapes other than ``demo`` are random weights in the released layouts (d16 = VAR-d16;
d30 is the 2.0B VAR-d30). Whole-process and reference comparisons: ``whole_process.py``,
``vs_reference.py``; the GUI path: ``gui_inpaint.py``; start-up: ``startup.py``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {  # depth, width, heads of VAR's released configurations
    "d16": (16, 1024, 16),
    "d20": (20, 1280, 20),
    "d24": (24, 1536, 24),
    "d30": (30, 1920, 30),
}
SIZES = {"512": (512, 512), "12mp": (4000, 3000)}
MASK_SIDE = 100


def build(shape: str, device: str, dtype: str):
    """The model of a cell: the shipped demo, or random weights of a released shape."""
    import torch

    from engine.api import ModelChoice
    from engine.store.cache import ModelCache

    if shape == "demo":
        return ModelCache().get(ModelChoice(model_id="demo", device=device, dtype=dtype))
    from engine.models.var.family import VarModel
    from engine.models.var.transformer import VAR, VARConfig
    from engine.models.var.vqvae import VQVAE, VQVAEConfig
    from engine.runtime.devices import resolve_device

    depth, width, heads = SHAPES[shape]
    torch.manual_seed(0)
    with torch.no_grad():
        vqvae = VQVAE(VQVAEConfig()).eval()
        var = VAR(VARConfig(depth=depth, embed_dim=width, num_heads=heads)).eval()
        var.head.weight.mul_(0.02)
    target = resolve_device(device)
    precision = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    vqvae.to(target)
    var.to(target)
    if precision != torch.float32:
        var.set_block_dtype(precision)
    return VarModel(vqvae, var, target, precision, shape)


class _Models:
    """The engine's cache interface over one prebuilt model."""

    def __init__(self, model):
        self.model = model

    def get(self, choice, progress=None):
        return self.model


def request(task: str, size: str):
    import numpy as np

    from engine.api import GenerateRequest, InpaintRequest, ModelChoice, Sampling

    sampling = Sampling(cfg=1.5, top_k=900, top_p=0.96, seed=0)
    if task == "generate":
        return GenerateRequest(ModelChoice(model_id="bench"), sampling=sampling)  # unconditional
    width, height = SIZES[size]
    y, x = np.mgrid[0:height, 0:width]
    photo = np.stack(((x * 255) // width, (y * 255) // height, (x + y) % 256), -1)
    mask = np.zeros((height, width), bool)
    x0, y0 = width // 2 - MASK_SIDE // 2, height // 2 - MASK_SIDE // 2
    mask[y0 : y0 + MASK_SIDE, x0 : x0 + MASK_SIDE] = True
    return InpaintRequest(ModelChoice(model_id="bench"), photo.astype(np.uint8), mask)


def run_cell(task: str, shape: str, size: str, device: str, dtype: str, reps: int) -> dict:
    """Time one cell in this process (called in a child, so peak RSS is the cell's)."""
    import resource

    import torch

    from engine.pipelines import run_request
    from engine.runtime.cancel import CancelToken
    from engine.runtime.jobs import JobContext

    model = build(shape, device, dtype)
    spent = [0.0]
    plain_preview = model.preview

    def timed_preview(latent, scale_index):
        t0 = time.perf_counter()
        try:
            return plain_preview(latent, scale_index)
        finally:
            spent[0] += time.perf_counter() - t0

    model.preview = timed_preview
    ctx = JobContext("bench", CancelToken(), lambda event: None, _Models(model), previews=True)
    job = request(task, size)
    best = None
    for rep in range(reps + 1):  # the first run warms kernels up and fits the preview map
        spent[0] = 0.0
        if model.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        run_request(job, ctx)
        if model.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        if rep and (best is None or seconds < best[0]):
            best = (seconds, spent[0])
    row = {
        "task": task, "shape": shape, "size": size if task == "inpaint" else "-",
        "seconds": best[0], "preview_share": best[1] / best[0],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "device": device_name(model.device), "dtype": dtype,
    }  # fmt: skip
    if model.device.type == "cuda":
        row["cuda_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return row


def device_name(device) -> str:
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"


def table(rows: list[dict]) -> str:
    lines = [
        "| task | shape | size | s/job | ratio | previews | peak RSS MiB | CUDA peak MiB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cuda = f"{row['cuda_peak_mib']:.0f}" if "cuda_peak_mib" in row else "-"
        lines.append(
            f"| {row['task']} | {row['shape']} | {row['size']} | {row['seconds']:.2f} | "
            f"{row.get('ratio', '-')} | {row['preview_share']:.1%} | {row['peak_rss_mib']:.0f} | "
            f"{cuda} |"
        )
    return "\n".join(lines)


def with_ratios(rows: list[dict]) -> list[dict]:
    """In-paint on 12 MP / in-paint on 512² of the same shape: does cost follow the edit?"""
    small = {
        r["shape"]: r["seconds"] for r in rows if r["task"] == "inpaint" and r["size"] == "512"
    }
    for row in rows:
        if row["task"] == "inpaint" and row["size"] != "512" and row["shape"] in small:
            row["ratio"] = f"{row['seconds'] / small[row['shape']]:.2f}x vs 512²"
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--shapes", nargs="+", default=["demo", "d16"])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--tasks", nargs="+", default=["generate", "inpaint"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", choices=("fp32", "bf16", "fp16"))
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--cell", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.cell:
        task, shape, size = args.cell
        print(json.dumps(run_cell(task, shape, size, args.device, args.dtype, args.reps)))
        return
    rows = []
    for shape in args.shapes:
        for task in args.tasks:
            for size in args.sizes if task == "inpaint" else ["-"]:
                cmd = [sys.executable, "-m", "benchmarks", "--cell", task, shape, size]
                cmd += ["--device", args.device, "--dtype", args.dtype, "--reps", str(args.reps)]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(f"  done {task} {shape} {size}", file=sys.stderr)
    print(f"{time.strftime('%Y-%m-%d')}, {rows[0]['device']}, {args.dtype}, best of {args.reps}")
    print(table(with_ratios(rows)))


if __name__ == "__main__":
    main()
