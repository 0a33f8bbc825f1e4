"""Keep a few loaded models, keyed by (files, device, dtype), least recently used evicted first.

Loading is lazy and happens on the engine thread; switching precision or device never reuses a
wrongly placed model.
"""

from __future__ import annotations

import gc
import os
import threading
from collections import OrderedDict

import torch

from engine.api import ModelChoice
from engine.models.family import FamilyModel
from engine.store.catalogue import resolve_model_choice
from engine.store.loaders import Progress, load_family


class ModelCache:
    """At most ``capacity`` loaded models, least recently used evicted first."""

    def __init__(self, capacity: int = 1):
        self.capacity = capacity
        self._models: OrderedDict[tuple, FamilyModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, choice: ModelChoice, progress: Progress | None = None) -> FamilyModel:
        family, files, patch_nums = resolve_choice(choice)
        paths = tuple(sorted((role, os.path.realpath(path)) for role, path in files.items()))
        key = (family, paths, choice.device, choice.dtype, patch_nums, choice.compile)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            while len(self._models) >= self.capacity:
                self._models.popitem(last=False)
                _release_memory()
        model = load_family(
            family, files, choice.device, choice.dtype, patch_nums, progress, choice.compile
        )
        with self._lock:
            self._models[key] = model
        return model

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
