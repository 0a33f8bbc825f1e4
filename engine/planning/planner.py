"""Pick how a model runs from the device's free memory: the first strategy that fits.

Order (cheapest in speed and fidelity first): everything resident; T5 freed after encoding;
+ int8 blocks; + blocks streamed from host RAM. A KV budget changes the picture the model
paints, so it is applied only when the user asks for one. A margin is kept: 10 % of the free
memory and, on CUDA, 300 MB for the context and the allocator's own blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from engine.api.memory import RESIDENT, MemoryPlan, MemoryStrategy
from engine.planning.estimate import estimate
from engine.planning.shapes import ModelShape

MARGIN = 0.10
CUDA_CONTEXT = 300 * 10**6
LADDER = (
    RESIDENT,
    MemoryStrategy(text_encoder="release"),
    MemoryStrategy(int8_blocks=True, text_encoder="release"),
    MemoryStrategy(int8_blocks=True, stream_blocks=True, text_encoder="release"),
)


@dataclass(frozen=True)
class DeviceMemory:
    """A device as the planner sees it: its kind, a label for people, its free bytes."""

    kind: str  # "cuda" | "cpu" | "mps"
    label: str  # "cuda:0 (NVIDIA GeForce RTX 4070)", "cpu"
    free: int | None  # None: unknown (no limit is assumed)

    @property
    def usable(self) -> int | None:
        """Free bytes less the safety margin (what a plan must fit in)."""
        if self.free is None:
            return None
        reserve = CUDA_CONTEXT if self.kind == "cuda" else 0
        return max(0, int(self.free * (1 - MARGIN)) - reserve)


def ladder(shape: ModelShape, kind: str) -> list[MemoryStrategy]:
    """The strategies worth trying on this device, in order: T5 steps only for text models,
    int8 and streamed blocks only for the Infinity families, no streaming on the CPU (RAM to
    RAM saves nothing)."""
    out = []
    for strategy in LADDER:
        if not shape.bitwise and (strategy.int8_blocks or strategy.stream_blocks):
            continue  # the block mechanics are the Infinity families' (loaders.PLACED_BY_STRATEGY)
        if shape.text is None and strategy.text_encoder != "device":
            strategy = replace(strategy, text_encoder="device")
        if kind == "cpu" and strategy.stream_blocks:
            continue
        if strategy not in out:
            out.append(strategy)
    return out


def plan_for(
    shape: ModelShape,
    model: str,
    resolution: int,
    strategy: MemoryStrategy,
    device: DeviceMemory,
    dtype: str,
    kv_budget: float | None = None,
) -> MemoryPlan:
    """The plan of one given strategy (the user's, or one step of the ladder); ``kv_budget``
    is the sampling setting the run will use (``Sampling.kv_budget``)."""
    components = estimate(shape, resolution, strategy, device.kind, dtype, kv_budget=kv_budget)
    return MemoryPlan(
        model, resolution, strategy, components, device.usable, device.label, kv_budget=kv_budget
    )


def choose(
    shape: ModelShape,
    model: str,
    resolution: int,
    device: DeviceMemory,
    dtype: str,
    kv_budget: float | None = None,
) -> MemoryPlan:
    """The first plan that fits, else the smallest (``fits`` False: the caller says so)."""
    plans = [
        plan_for(shape, model, resolution, strategy, device, dtype, kv_budget)
        for strategy in ladder(shape, device.kind)
    ]
    for candidate in plans:
        if candidate.fits:
            return candidate
    return min(plans, key=lambda p: p.total)


def run_dtype(kind: str, requested: str | None = None) -> str:
    """What the blocks run in: the caller's choice, else bf16 on a GPU and fp32 on the CPU."""
    return requested or ("fp32" if kind == "cpu" else "bf16")


def available_ram() -> int | None:
    """``MemAvailable`` from /proc/meminfo (no psutil); None where there is no such file."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def device_memory(device: torch.device) -> DeviceMemory:
    """The device's free memory now: CUDA's own count, the RAM for the CPU (and MPS, which
    shares it)."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        free, _total = torch.cuda.mem_get_info(index)
        name = torch.cuda.get_device_name(index)
        return DeviceMemory("cuda", f"cuda:{index} ({name})", int(free))
    kind = "mps" if device.type == "mps" else "cpu"
    return DeviceMemory(kind, kind, available_ram())
