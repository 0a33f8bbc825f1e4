"""Keep a few loaded models, keyed by (files, device, dtype, memory strategy), least recently
used evicted first.

Loading is lazy and happens on the engine thread; switching precision, device or strategy never
reuses a wrongly placed model. A choice without a strategy (``memory=None``) gets the memory
planner's: the first that fits the device's free memory now (on the CPU that is "all
resident" unless RAM is short).
"""

from __future__ import annotations

import gc
import os
import threading
from collections import OrderedDict
from collections.abc import Callable

import torch

from engine.api import ModelChoice
from engine.api.memory import RESIDENT, MemoryPlan, MemoryStrategy
from engine.models.family import FamilyModel
from engine.planning import planner
from engine.planning.planner import DeviceMemory, choose, device_memory, run_dtype
from engine.planning.shapes import SHAPES
from engine.runtime.devices import resolve_device
from engine.store.catalogue import get_model, resolve_model_choice
from engine.store.loaders import Progress, applied_strategy, load_family

MemoryProbe = Callable[[torch.device], DeviceMemory]


class ModelCache:
    """At most ``capacity`` loaded models, least recently used evicted first."""

    def __init__(self, capacity: int = 1, memory: MemoryProbe = device_memory):
        self.capacity = capacity
        self._memory = memory  # free memory of a device (a test fakes a small GPU)
        self._models: OrderedDict[tuple, FamilyModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, choice: ModelChoice, progress: Progress | None = None) -> FamilyModel:
        family, files, patch_nums = resolve_choice(choice)
        paths = tuple(sorted((role, os.path.realpath(path)) for role, path in files.items()))
        base = (family, paths, choice.device, choice.dtype, patch_nums, choice.compile)
        with self._lock:
            # A loaded model is not re-planned: the memory it holds is not free any more.
            found = self._loaded(base, choice.memory)
            if found is not None:
                self._models.move_to_end(found)
                return self._models[found]
            # Make room first, so the planner sees the memory this load will really have.
            while len(self._models) >= self.capacity:
                self._models.popitem(last=False)
                _release_memory()
        strategy = applied_strategy(family, self.strategy_for(choice))
        key = (*base, strategy)
        model = load_family(
            family,
            files,
            choice.device,
            choice.dtype,
            patch_nums,
            progress,
            strategy=strategy,
            compile=choice.compile,
        )
        with self._lock:
            self._models[key] = model
        return model

    def _loaded(self, base: tuple, memory: MemoryStrategy | None) -> tuple | None:
        for key in self._models:
            if key[:-1] == base and (memory is None or key[-1] == memory):
                return key
        return None

    def strategy_for(self, choice: ModelChoice) -> MemoryStrategy:
        """The choice's own strategy, else the planner's for a released model, else resident."""
        if choice.memory is not None:
            return choice.memory
        plan = self.plan_for(choice)
        return RESIDENT if plan is None else plan.strategy

    def plan_for(self, choice: ModelChoice, resolution: int | None = None) -> MemoryPlan | None:
        """The plan for a registry model on the choice's device now (None for files or models
        of unknown shape): the choice's own strategy, else the planner's. When nothing fits,
        the smallest plan: the load then tries its best and an out-of-memory error says the
        rest."""
        if choice.files or not choice.model_id:
            return None
        spec = get_model(choice.model_id)
        shape = SHAPES.get(spec.shape)
        if shape is None:
            return None
        device = self._memory(resolve_device(choice.device))
        if resolution is None and spec.resolution in shape.resolutions:
            resolution = spec.resolution
        resolution = shape.check_resolution(resolution)
        dtype = run_dtype(device.kind, choice.dtype)
        if choice.memory is not None:
            return planner.plan_for(shape, spec.id, resolution, choice.memory, device, dtype)
        return choose(shape, spec.id, resolution, device, dtype)

    def clear(self) -> None:
        with self._lock:
            self._models.clear()
        _release_memory()


def resolve_choice(choice: ModelChoice) -> tuple[str, dict[str, str], tuple[int, ...] | None]:
    """Explicit files win; otherwise the registry resolves the model id to installed files."""
    if choice.files:
        return choice.family, dict(choice.files), choice.patch_nums
    family, files, patch_nums = resolve_model_choice(choice.model_id or "demo")
    return family, files, choice.patch_nums or patch_nums


def _release_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
