"""Instruction edit (VAREdit) cost: time and peak memory per edit of the tiny fixture model.

Builds the varedit_tiny weights from their recipes (tests/fixtures/varedit_tiny), writes them as
released files, loads them through the engine's family loader and runs whole edits (T5 text,
VAE encode, source pass, 7 scales with CFG, decode) through the edit pipeline, on the CPU and,
when present, on CUDA.

    python benchmarks/edit.py [--reps 3] [--size 517x389] [--mask]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_files(folder: Path) -> dict[str, str]:
    from tests.engine.infinity.recipes import write_released, write_t5_folder

    transformer, vae = write_released(folder, "safetensors")
    text = write_t5_folder(folder / "t5")
    return {"transformer": str(transformer), "vae": str(vae), "text_encoder": str(text)}


def bench(device: str, files: dict[str, str], args) -> dict[str, float]:
    import numpy as np
    import torch

    from engine.api import EditRequest, ModelChoice, Sampling
    from engine.models.infinity.config import SQUARE_SIDES
    from engine.pipelines.edit import run_edit
    from engine.runtime.cancel import CancelToken
    from engine.runtime.jobs import JobContext
    from engine.store.infinity import load_varedit_files

    t0 = time.perf_counter()
    model = load_varedit_files(files, device, "fp32", SQUARE_SIDES[:7])
    load_s = time.perf_counter() - t0

    class Loaded:
        def get(self, choice, progress=None):
            return model

    ctx = JobContext("bench", CancelToken(), lambda event: None, Loaded())
    width, height = (int(v) for v in args.size.split("x"))
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    mask = None
    if args.mask:
        mask = np.zeros((height, width), bool)
        mask[height // 4 : height // 2, width // 4 : width // 2] = True
    times, cpu_times = [], []
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
        t0, c0 = time.perf_counter(), time.process_time()
        run_edit(request, ctx)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    out = {
        "load_s": load_s,
        "edit_s": min(times[1:]),
        "cpu_s": min(cpu_times[1:]),  # all threads: less sensitive to a busy machine
        "peak_rss_mib": peak_rss_mib(),
    }
    if device.startswith("cuda"):
        out["cuda_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--size", default="517x389", help="photo WxH")
    parser.add_argument("--mask", action="store_true", help="limit the edit to a rectangle")
    args = parser.parse_args()

    import torch

    base_rss = peak_rss_mib()
    with tempfile.TemporaryDirectory() as folder:
        files = build_files(Path(folder))
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        print(
            f"tiny VAREdit (1.35M + VAE 6.95M params), 256 px, 7 scales, cfg 4, photo {args.size}"
            f"{' masked' if args.mask else ''}, best of {args.reps}, "
            f"{torch.get_num_threads()} CPU threads; RSS before torch work {base_rss:.0f} MiB"
        )
        for device in devices:
            r = bench(device, files, args)
            line = (
                f"{device:>5}: load {r['load_s']:.2f} s, edit {r['edit_s'] * 1000:.0f} ms "
                f"(CPU time {r['cpu_s'] * 1000:.0f} ms), "
                f"peak RSS {r['peak_rss_mib']:.0f} MiB"
            )
            if "cuda_peak_mib" in r:
                line += f", CUDA peak {r['cuda_peak_mib']:.0f} MiB"
            print(line)


if __name__ == "__main__":
    main()
