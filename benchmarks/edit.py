"""Instruction edit (VAREdit) cost: time and peak memory per edit, per memory strategy.

Two models, each written as released files and loaded through the engine's family loader with
a ``MemoryStrategy``, running whole edits (T5 text, VAE encode, source pass, 7 scales with CFG
at 256 px, decode) through the edit pipeline:

* ``tiny``: the varedit_tiny fixture weights (tests/fixtures/varedit_tiny), fp32;
* ``2b``: a 2B-shaped random transformer (width 2048, 16 heads, FFN 8192, T5 width 2048) with
  bf16 blocks, ``--depth`` blocks (default 32, the real model: 22-36 s an edit on this 2-vCPU VM
  when quiet, minutes when shared; ``--depth 4`` then: time and weights per block scale
  linearly), a random 1-layer T5 of width 2048 and the fixture's VAE (the real 2B VAE is not
  what is measured here).

Strategies: ``resident``, ``int8`` (int8 blocks), ``stream`` (blocks streamed from host RAM
through two device slots), ``int8+stream``. Each (model, device, strategy) runs in its own
process, so ``ru_maxrss`` is that run's own peak (load included); on CUDA the device name and
``torch.cuda.max_memory_allocated`` are recorded. On the CPU "device" and host are the same
memory, so streaming cannot lower the CPU peak: it adds its two slots; it pays on a GPU.

    python benchmarks/edit.py [--models tiny,2b] [--depth 32] [--reps 2] [--size 517x389] [--mask]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STRATEGIES = {
    "resident": {},
    "int8": {"int8_blocks": True},
    "stream": {"stream_blocks": True},
    "int8+stream": {"int8_blocks": True, "stream_blocks": True},
}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_tiny(folder: Path) -> dict[str, str]:
    from tests.engine.infinity.recipes import write_released, write_t5_folder

    transformer, vae = write_released(folder, "safetensors")
    text = write_t5_folder(folder / "t5")
    return {"transformer": str(transformer), "vae": str(vae), "text_encoder": str(text)}


def build_2b(folder: Path, depth: int) -> dict[str, str]:
    """The 2B shapes with ``depth`` blocks, bf16 in the file (as a converted release)."""
    import torch
    from safetensors.torch import save_file
    from transformers import T5Config, T5EncoderModel

    from engine.models.infinity.build import transformer_skeleton
    from engine.models.infinity.config import InfinityConfig
    from tests.engine.infinity.recipes import FIXTURES

    files = build_tiny(folder / "tiny")  # its VAE and tokenizer
    cfg = InfinityConfig(2048, depth, depth, 16, 8192, 32, 2048, 16, 15)
    g = torch.Generator().manual_seed(0)
    state = {}
    for key, t in transformer_skeleton(cfg).state_dict().items():
        fan_in = t.shape[-1] if t.ndim > 1 else 8
        value = torch.randn(t.shape, generator=g) / fan_in**0.5
        state[key] = value.bfloat16() if key.startswith("block_chunks.") else value
        if key.endswith("zero_k_bias"):
            state[key] = torch.zeros(t.shape, dtype=state[key].dtype)
    path = folder / "2B-256.safetensors"
    save_file(state, str(path))
    del state
    t5 = json.loads((FIXTURES / "weights_t5.json").read_text())["t5_config"]
    t5.update(d_model=2048, num_layers=1, num_heads=2, d_kv=64, d_ff=256)
    torch.manual_seed(0)
    text_folder = folder / "t5_2048"
    T5EncoderModel(T5Config(**t5)).save_pretrained(text_folder, safe_serialization=True)
    for part in Path(files["text_encoder"]).iterdir():  # the fixture's tokenizer files
        if part.name not in ("config.json", "model.safetensors"):
            shutil.copy(part, text_folder / part.name)
    return {"transformer": str(path), "vae": files["vae"], "text_encoder": str(text_folder)}


def bench(device: str, dtype: str, files: dict[str, str], strategy: str, args) -> dict:
    import numpy as np
    import torch

    from engine.api import EditRequest, ModelChoice, Sampling
    from engine.api.memory import MemoryStrategy
    from engine.models.infinity.config import SQUARE_SIDES
    from engine.pipelines.edit import run_edit
    from engine.runtime.cancel import CancelToken
    from engine.runtime.jobs import JobContext
    from engine.store.infinity import load_varedit_files

    plan = MemoryStrategy(**STRATEGIES[strategy])
    t0 = time.perf_counter()
    model = load_varedit_files(files, device, dtype, SQUARE_SIDES[:7], strategy=plan)
    load_s = time.perf_counter() - t0

    class Loaded:
        def get(self, choice, progress=None):
            return model

    ctx = JobContext("bench", CancelToken(), lambda event: None, Loaded())
    width, height = (int(v) for v in args.size.split("x"))
    image = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    mask = None
    if args.mask:
        mask = np.zeros((height, width), bool)
        mask[height // 4 : height // 2, width // 4 : width // 2] = True
    times = []
    for rep in range(args.reps + 1):  # the first is a warm-up
        request = EditRequest(
            model=ModelChoice(),
            image=image,
            instruction=f"make it look like winter {rep}",  # a new text each time: T5 runs
            mask=mask,
            sampling=Sampling(cfg=4.0, top_k=900, top_p=0.97, tau=0.5, seed=rep),
        )
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        run_edit(request, ctx)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    out = {"load_s": load_s, "edit_s": min(times[1:]), "peak_rss_mib": peak_rss_mib()}
    if device.startswith("cuda"):
        out["cuda_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
        out["device_name"] = torch.cuda.get_device_name()
    return out


def child(args) -> None:
    """One job in this (fresh) process, printed as JSON: a measurement, or the files."""
    if args.build:
        import torch

        folder = Path(args.build)
        if args.models == "tiny":
            files, dtype = build_tiny(folder / "tiny"), "fp32"
        else:
            files, dtype = build_2b(folder / "2b", args.depth), "bf16"
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        print(
            json.dumps(
                {
                    "files": files,
                    "dtype": dtype,
                    "devices": devices,
                    "threads": torch.get_num_threads(),
                }
            )
        )
        return
    files = json.loads(args.files)
    print(json.dumps(bench(args.device, args.dtype, files, args.strategy, args)))


def run_child(*options: str) -> dict:
    """Linux keeps a process's peak RSS across exec: this parent stays small (no torch), so
    every build and every measurement runs in a child of its own."""
    command = [sys.executable, __file__, "--child", *options]
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def line(name: str, device: str, strategy: str, r: dict) -> str:
    text = (
        f"{name:>4} {device:>4} {strategy:>11}: load {r['load_s']:.2f} s, "
        f"edit {r['edit_s'] * 1000:.0f} ms, peak RSS {r['peak_rss_mib']:.0f} MiB"
    )
    if "cuda_peak_mib" in r:
        text += f", CUDA peak {r['cuda_peak_mib']:.0f} MiB ({r['device_name']})"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", default="tiny,2b")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--depth", type=int, default=32, help="blocks of the 2B-shaped model")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--size", default="517x389", help="photo WxH")
    parser.add_argument("--mask", action="store_true", help="limit the edit to a rectangle")
    for hidden in ("--files", "--device", "--dtype", "--strategy"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--build", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    common = ["--reps", str(args.reps), "--size", args.size] + (["--mask"] if args.mask else [])
    print(
        f"VAREdit edits, 256 px, 7 scales, cfg 4, photo {args.size}"
        f"{' masked' if args.mask else ''}, best of {args.reps} after a warm-up; each row "
        "its own process"
    )
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models.split(","):
            built = run_child("--build", folder, "--models", name, "--depth", str(args.depth))
            if name == "tiny":
                print(
                    f"tiny: fixture shapes (1.35M + VAE 6.95M params), fp32, "
                    f"{built['threads']} CPU threads"
                )
            else:
                cut = " (cut: per-block time and weights scale linearly)" if args.depth < 32 else ""
                print(
                    f"  2b: width 2048, 16 heads, FFN 8192, {args.depth} of 32 blocks{cut}, "
                    "bf16 blocks"
                )
            for device in built["devices"]:
                for strategy in args.strategies.split(","):
                    options = ["--files", json.dumps(built["files"]), "--device", device]
                    options += ["--dtype", built["dtype"], "--strategy", strategy, *common]
                    print(line(name, device, strategy, run_child(*options)), flush=True)


if __name__ == "__main__":
    main()
