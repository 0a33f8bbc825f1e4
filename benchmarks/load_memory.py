"""Peak host memory while loading an Infinity transformer checkpoint into a bf16 (or int8) run.

Writes a random transformer (default: width 1024, 4 blocks, ~311 MiB in fp32) as fp32
safetensors, fp32 ``.pth`` and bf16 ``.pth``, then loads each in a fresh subprocess through
``engine.store.infinity.load_transformer`` and reports the growth of ``ru_maxrss`` (every
resident page, memory-mapped file pages included) and the sampled peak of anonymous memory
(``RssAnon``: what cannot be dropped and re-read, so what runs a machine out of memory).

    python benchmarks/load_memory.py [--width 1024] [--depth 4] [--int8]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0


def measure(path: str, int8: bool) -> dict[str, float]:
    """In this process: load ``path`` with bf16 blocks; memory growth in MiB."""
    import torch

    from engine.store.infinity import load_transformer

    peak, done = [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _status_mib("RssAnon:"))
            time.sleep(0.002)

    max0, anon0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, _status_mib("RssAnon:")
    thread = threading.Thread(target=sample)
    thread.start()
    model = load_transformer(path, block_dtype=torch.bfloat16, int8_blocks=int8)
    done.set()
    thread.join()
    held = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    return {
        "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - max0,
        "peak_anon": peak[0] - anon0,
        "model": held / 2**20,
    }


CHECKPOINTS = ("fp32.safetensors", "fp32.pth", "bf16.pth")


def write_checkpoints(folder: Path, width: int, depth: int) -> str:
    import torch
    from safetensors.torch import save_file

    from engine.models.infinity.build import transformer_skeleton
    from engine.models.infinity.config import InfinityConfig

    cfg = InfinityConfig(width, depth, 2, width // 128, 4 * width, 32, width, width // 128, 15)
    generator = torch.Generator().manual_seed(0)
    state = {
        key: torch.randn(t.shape, generator=generator) * 0.02
        for key, t in transformer_skeleton(cfg).state_dict().items()
    }
    save_file(state, str(folder / CHECKPOINTS[0]))
    torch.save(state, folder / CHECKPOINTS[1])
    torch.save({k: v.bfloat16() for k, v in state.items()}, folder / CHECKPOINTS[2])
    return f"fp32 MiB {sum(t.numel() * 4 for t in state.values()) / 2**20}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--int8", action="store_true", help="int8 blocks instead of bf16")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # the subprocesses' jobs
    parser.add_argument("--write", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.int8)))
        return
    if args.write:
        print(write_checkpoints(Path(args.write), args.width, args.depth))
        return
    # Linux keeps a process's peak RSS across exec: this parent stays small (no torch), the
    # checkpoints are written and each load measured in subprocesses of their own.
    with tempfile.TemporaryDirectory() as folder:
        sizes = ["--width", str(args.width), "--depth", str(args.depth)]
        written = subprocess.run(
            [sys.executable, __file__, "--write", folder, *sizes],
            check=True,
            capture_output=True,
            text=True,
        )
        fp32_mib = float(written.stdout.split()[-1])
        paths = [Path(folder) / name for name in CHECKPOINTS]
        kind = "int8" if args.int8 else "bf16"
        print(
            f"random transformer, width {args.width}, {args.depth} blocks: {fp32_mib:.0f} MiB "
            f"in fp32; loaded with {kind} blocks (growth over the interpreter, MiB)"
        )
        for path in paths:
            command = [sys.executable, __file__, "--measure", str(path)]
            out = subprocess.run(
                command + (["--int8"] if args.int8 else []),
                check=True,
                capture_output=True,
                text=True,
            )
            r = json.loads(out.stdout)
            print(
                f"{path.name:>18}: ru_maxrss +{r['ru_maxrss']:.0f}, peak anonymous "
                f"+{r['peak_anon']:.0f}, model {r['model']:.0f}"
            )


if __name__ == "__main__":
    main()
