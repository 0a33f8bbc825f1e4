"""``--compile`` (torch.compile of the blocks) vs eager: compile wait, seconds per image after it,
and whether the tokens are the same. Interleaved in one process, best of ``--reps``.

    python benchmarks/compile.py [--shape demo|d16|...] [--device cpu|cuda] [--dtype fp32|bf16]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.__main__ import build, device_name  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", default="demo")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    import torch

    from engine.api import Sampling
    from engine.models.compiled import compile_blocks
    from engine.models.family import Condition

    eager, compiled = (
        build(args.shape, args.device, args.dtype),
        build(args.shape, args.device, args.dtype),
    )
    compile_blocks(compiled.var.blocks)
    sampling, condition = Sampling(cfg=1.5, top_k=900, top_p=0.96), Condition(class_label=0)

    def run(model, seed: int):
        if model.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = model.sample(condition, sampling, seed)
        if model.device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0, out

    first, _ = run(compiled, 0)
    run(eager, 0)  # warm-up
    best = {"eager": float("inf"), "compiled": float("inf")}
    same = True
    for seed in range(1, args.reps + 1):
        t_e, e = run(eager, seed)
        t_c, c = run(compiled, seed)
        best["eager"], best["compiled"] = min(best["eager"], t_e), min(best["compiled"], t_c)
        same &= all(torch.equal(a, b) for a, b in zip(e.tokens, c.tokens, strict=True))
    print(f"{args.shape}, {args.dtype}, {device_name(eager.device)}, best of {args.reps}")
    print(f"  first compiled image (compiling): {first:.1f} s")
    print(f"  eager {best['eager']:.3f} s/image, compiled {best['compiled']:.3f} s/image "
          f"({best['compiled'] / best['eager']:.2f}x), same tokens: {same}")  # fmt: skip


if __name__ == "__main__":
    main()
