"""The memory estimator against a measured peak: one VAREdit sampling run on the CPU.

Builds a random VAREdit transformer of the 2B shape (width 2048, 16 heads, FFN 8192; blocks in
bf16, the rest float32, as the loader keeps it) straight on the CPU without an fp32 copy,
runs one full edit sampling (source pass + every scale, CFG) in a child process and reports the
resident-set high-water mark above what was resident before the run (large allocations mapped
one by one, so the mark follows the live tensors; ``--default-allocator`` measures glibc's
default heap, fragmentation included), against the estimator's
KV cache + activations for the same shape. The run is done twice: the first loads kernels and
sizes the allocator's pools; the heap is trimmed and the high-water mark reset
(``/proc/self/clear_refs``) before the measured second run.

Both terms grow linearly in depth (KV) or not at all (activations of one block), so
``--depth`` may be cut to save RAM and time; the estimate is made for the same depth.

With ``--var var-d16`` it runs a random VAR of a released shape (float32, as on the CPU).
With ``--vae varedit-2b`` (or ``varedit-8b``) it measures the float32 VAE decode and encode of
one image of a random VAE of that shape instead, against the estimator's VAE phase.

    python benchmarks/memory_plan.py [--depth 32] [--resolution 256] [--width 2048]
    python benchmarks/memory_plan.py --vae varedit-2b --resolution 512
    python benchmarks/memory_plan.py --var var-d16
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEXT_TOKENS = 24
# Tensors of 64 KiB and more get their own mapping, returned when freed: the resident set then
# follows the live tensors instead of glibc's heap (whose free holes a high-water mark counts).
MMAP_THRESHOLD = 65536


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _trim_and_reset() -> int:
    """Free what the allocator holds, reset the high-water mark; returns resident bytes."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS") * 1024


def shape_config(width: int, depth: int, heads: int, ffn: int):
    from engine.models.infinity.config import InfinityConfig

    return InfinityConfig(
        embed_dim=width, depth=depth, block_chunks=1, num_heads=heads, ffn_hidden=ffn,
        token_dim=32, text_dim=2048, pool_heads=heads, lvl_rows=15,
    )  # fmt: skip


def random_transformer(cfg, dtype):
    """Allocated once in its final dtypes (meta -> cast -> empty), filled with small noise."""
    import torch

    from engine.models.infinity.transformer import InfinityTransformer

    with torch.device("meta"):
        model = InfinityTransformer(cfg)
    model.set_block_dtype(dtype)
    model = model.to_empty(device="cpu").eval().requires_grad_(False)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("zero_k_bias") or "scale_mul" in name:
                tensor.zero_()
            elif name.endswith("norm.weight"):
                tensor.fill_(1.0)
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.02)
    return model


def child(args: argparse.Namespace) -> dict:
    import torch

    from engine.models.infinity.config import square_schedule
    from engine.samplers.bitwise import BitwiseSettings, sample_bits

    torch.set_num_threads(args.threads)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    cfg = shape_config(args.width, args.depth, args.heads, args.ffn)
    model = random_transformer(cfg, dtype)
    schedule = square_schedule(args.resolution)
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(TEXT_TOKENS, cfg.text_dim, generator=generator)
    side = schedule[-1][0]
    source = torch.randint(0, 2, (1, side * side, cfg.token_dim), generator=generator).float()
    settings = BitwiseSettings.constant(len(schedule), cfg=3.0, tau=1.0)

    def run() -> None:
        with torch.inference_mode():
            text = model.encode_text(features, guided=True)
            sample_bits(model, text, source, schedule, settings, generator=generator)

    run()  # kernels, thread pools, allocator pools
    before = _trim_and_reset()
    run()
    peak = _status_kib("VmHWM") * 1024
    return {"before": before, "peak_above": peak - before}


def random_vae(cfg):
    import torch

    from engine.models.infinity.bsq_vae import BSQVae

    with torch.device("meta"):
        vae = BSQVae(cfg)
    vae = vae.to_empty(device="cpu").eval().requires_grad_(False)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for tensor in vae.state_dict().values():
            tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.02)
    return vae


def vae_child(args: argparse.Namespace) -> dict:
    """The float32 decode (and encode) of one image: the VAE phase of an edit."""
    import torch

    from engine.planning.shapes import SHAPES

    torch.set_num_threads(args.threads)
    cfg = SHAPES[args.vae].vae
    vae = random_vae(cfg)
    side = args.resolution // cfg.stride
    latent = torch.randn(1, cfg.bits, side, side)
    image = torch.rand(1, 3, args.resolution, args.resolution) * 2 - 1
    with torch.inference_mode():
        vae.decode(latent)
        vae.encode_raw(image)
        peaks = {}
        for name, run in (("decode", lambda: vae.decode(latent)),
                          ("encode", lambda: vae.encode_raw(image))):  # fmt: skip
            before = _trim_and_reset()
            run()
            peaks[name] = _status_kib("VmHWM") * 1024 - before
    return {"peak_above": max(peaks.values()), **peaks}


def var_child(args: argparse.Namespace) -> dict:
    """One class-conditional VAR sampling run (CFG, float32, as the CPU runs it)."""
    import torch

    from engine.models.var.transformer import VAR
    from engine.models.var.vqvae import VQVAE
    from engine.planning.shapes import SHAPES
    from engine.samplers.var import sample_scales

    torch.set_num_threads(args.threads)
    shape = SHAPES[args.var]
    generator = torch.Generator().manual_seed(0)
    var = VAR(shape.transformer).eval().requires_grad_(False)  # real buffers, random weights
    vqvae = VQVAE(shape.vae).eval().requires_grad_(False)
    labels = torch.tensor([3])
    with torch.inference_mode():
        sample_scales(var, vqvae.quantize, labels, cfg=1.5, generator=generator)
        before = _trim_and_reset()
        sample_scales(var, vqvae.quantize, labels, cfg=1.5, generator=generator)
        peak = _status_kib("VmHWM") * 1024
    return {"before": before, "peak_above": peak - before}


def estimate_var(args: argparse.Namespace) -> dict:
    from engine.planning.estimate import activation_bytes, kv_bytes, token_layout
    from engine.planning.shapes import SHAPES

    shape = SHAPES[args.var]
    seq = token_layout(shape, shape.resolutions[0])
    last = not args.lowmem_layout
    return {
        "kv_cache": kv_bytes(shape, seq, 4, None, last),
        "activations": activation_bytes(shape, seq, 4, "cpu", False, last),
    }


def estimate_for(args: argparse.Namespace, last_scale_cached: bool) -> dict:
    from engine.planning.estimate import activation_bytes, kv_bytes, token_layout
    from engine.planning.shapes import SHAPES, ModelShape

    base = SHAPES["varedit-2b"]
    cfg = shape_config(args.width, args.depth, args.heads, args.ffn)
    shape = ModelShape("2B-shaped", "varedit", cfg, base.vae, base.text, (args.resolution,))
    seq = token_layout(shape, args.resolution)
    b = 2 if args.dtype == "bf16" else 4
    kv = kv_bytes(shape, seq, b, None, last_scale_cached)
    act = activation_bytes(shape, seq, b, "cpu", False, last_scale_cached)
    return {"kv_cache": kv, "activations": act}


def measure(argv: list[str]) -> dict:
    """Run the child with ``argv`` and compare; what the test and ``main`` both use."""
    args = parse(argv)
    env = dict(os.environ)
    if not args.default_allocator:
        env["MALLOC_MMAP_THRESHOLD_"] = str(MMAP_THRESHOLD)
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", *argv],
        capture_output=True, text=True, check=True, cwd=ROOT, env=env,
    )  # fmt: skip
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    if args.vae:
        from engine.planning.estimate import vae_phase_bytes
        from engine.planning.shapes import SHAPES

        total = vae_phase_bytes(SHAPES[args.vae], args.resolution)
        return {**measured, "estimate": total, "measured": measured["peak_above"],
                "error": total / measured["peak_above"] - 1}  # fmt: skip
    # The cache on this branch still holds the last scale (the low-memory layout drops it).
    if args.var:
        estimated = estimate_var(args)
    else:
        estimated = estimate_for(args, last_scale_cached=not args.lowmem_layout)
    total = estimated["kv_cache"] + estimated["activations"]
    return {**estimated, "estimate": total, "measured": measured["peak_above"],
            "error": total / measured["peak_above"] - 1}  # fmt: skip


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--depth", type=int, default=32)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--ffn", type=int, default=8192)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--dtype", choices=("bf16", "fp32"), default="bf16")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--var", choices=("var-d16", "var-d20", "var-d24", "var-d30"),
        help="measure a random VAR of this shape (float32, its own resolution) instead",
    )  # fmt: skip
    parser.add_argument(
        "--vae", choices=("varedit-2b", "varedit-8b"),
        help="measure this model's VAE decode/encode instead of the transformer's sampling",
    )  # fmt: skip
    parser.add_argument(
        "--default-allocator", action="store_true",
        help="measure under glibc's default (dynamic) mmap threshold: fragmentation included",
    )  # fmt: skip
    parser.add_argument(
        "--lowmem-layout", action="store_true",
        help="the sampler no longer caches the last scale (once the low-memory loader is in)",
    )  # fmt: skip
    return parser.parse_args(argv)


def main() -> None:
    argv = sys.argv[1:]
    args = parse(argv)
    if args.child:
        run = vae_child if args.vae else var_child if args.var else child
        print(json.dumps(run(args)))
        return
    result = measure([a for a in argv if a != "--child"])
    mb = 1e6
    if args.vae:
        print(f"{args.vae} VAE at {args.resolution} px on the CPU (float32): estimate "
              f"{result['estimate'] / mb:.1f} MB, measured decode {result['decode'] / mb:.1f} MB, "
              f"encode {result['encode'] / mb:.1f} MB ({result['error']:+.1%})")  # fmt: skip
        return
    if args.var:
        print(f"{args.var} (random weights, float32) on the CPU, one sampling run with CFG:")
    else:
        print(
            f"2B-shaped VAREdit (width {args.width}, depth {args.depth}, {args.dtype} blocks) "
            f"at {args.resolution} px on the CPU, one sampling run with CFG:"
        )
    print(f"  estimate: KV {result['kv_cache'] / mb:.1f} MB + activations "
          f"{result['activations'] / mb:.1f} MB = {result['estimate'] / mb:.1f} MB")  # fmt: skip
    allocator = "default glibc heap" if args.default_allocator else "tensors mapped one by one"
    print(f"  measured: {result['measured'] / mb:.1f} MB above the loaded weights "
          f"(RSS peak, {allocator})")  # fmt: skip
    print(f"  estimate / measured - 1 = {result['error']:+.1%}")


if __name__ == "__main__":
    main()
