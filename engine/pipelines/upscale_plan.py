"""Say before an upscale how many tiles it takes, roughly how long and how much memory.

Time is an estimate: the transformer's multiply-adds per window (2 x parameters x tokens, both
CFG halves) over this machine's measured float32 matrix throughput. Memory is the weights, the
per-window activations (KV cache and decoder, scaled from the weights) and the output canvas.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from engine.imaging.tiles import TileLayout
from engine.models.family import FamilyModel

_THROUGHPUT: dict[str, float] = {}
# Measured on the 2-core test machine with the demo model: a whole window (tokenizer, loop,
# decoder, colour fix, Python) takes ~8x the transformer's bare matrix FLOPs at peak rate.
OVERHEAD = 8.0


def measured_flops(device: torch.device | str = "cpu") -> float:
    """float32 matmul FLOP/s on ``device`` (measured once per process, ~50 ms)."""
    key = str(device)
    if key not in _THROUGHPUT:
        a = torch.randn(512, 512, device=device)
        a @ a  # warm-up
        start, runs = time.perf_counter(), 8
        for _ in range(runs):
            a @ a
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        _THROUGHPUT[key] = runs * 2 * 512**3 / max(time.perf_counter() - start, 1e-6)
    return _THROUGHPUT[key]


@dataclass(frozen=True)
class UpscalePlan:
    input_wh: tuple[int, int]
    output_wh: tuple[int, int]
    method: str  # model name or "Lanczos"
    tiles: int
    tile: int
    seconds: float
    peak_bytes: int
    device: str

    def summary(self) -> str:
        """E.g. ``12.0 MP x2 -> 48 tiles, ~6 min on this CPU, 2.1 GB``."""
        w, h = self.input_wh
        factor = self.output_wh[0] / w
        shown = f"{factor:.0f}" if abs(factor - round(factor)) < 1e-6 else f"{factor:.2f}"
        where = "this CPU" if self.device == "cpu" else self.device
        if self.tiles == 0:
            return f"{w * h / 1e6:.1f} MP x{shown} with {self.method}: instant"
        return (
            f"{w * h / 1e6:.1f} MP x{shown} -> {self.tiles} tiles, ~{_duration(self.seconds)} "
            f"on {where}, {self.peak_bytes / 1e9:.1f} GB"
        )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def window_seconds(model: FamilyModel) -> float:
    """Estimated seconds per window: transformer multiply-adds over measured throughput."""
    params = model.memory_bytes() / max(1, torch.finfo(model.dtype).bits // 8)
    tokens = sum(h * w for h, w in model.schedule)
    flops = 2 * params * tokens * 2
    return OVERHEAD * flops / measured_flops(model.device)


def plan_upscale(
    input_wh: tuple[int, int],
    output_wh: tuple[int, int],
    model: FamilyModel | None,
    tile: int | None = None,
    overlap: int | None = None,
) -> UpscalePlan:
    """The run's shape before it starts (``model=None``: the fast Lanczos resize)."""
    canvas = output_wh[0] * output_wh[1] * (3 * 4 + 4 + 1 + 3)
    if model is None:
        return UpscalePlan(input_wh, output_wh, "Lanczos", 0, 0, 0.0, canvas, "cpu")
    tile = tile or model.resolution
    overlap = tile // 4 if overlap is None else overlap
    layout = TileLayout(output_wh[1], output_wh[0], tile, overlap)
    weights = model.memory_bytes()
    activations = weights // 2 + model.resolution**2 * 3 * 4 * 64
    seconds = len(layout) * window_seconds(model)
    return UpscalePlan(
        input_wh,
        output_wh,
        model.name,
        len(layout),
        tile,
        seconds,
        int(weights + activations + canvas),
        model.device.type,
    )
