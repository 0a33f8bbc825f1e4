"""The model cache asks the planner when a choice names no strategy, and keys by strategy."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.api import ModelChoice
from engine.api.memory import RESIDENT, MemoryStrategy
from engine.planning.planner import DeviceMemory, choose
from engine.planning.shapes import SHAPES
from engine.store import loaders
from engine.store.cache import ModelCache

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "resources" / "models" / "demo"
GB = 10**9


@pytest.fixture
def planned_loads(monkeypatch):
    """The VAREdit family's loader slot (a family placed by strategy) serving the demo's real
    loader, recording the strategy each load was given."""
    seen = []

    def load(files, device, dtype, patch_nums, progress, *, strategy=RESIDENT):
        seen.append(strategy)
        return loaders.load_var_files(files, device, dtype, patch_nums, progress)

    monkeypatch.setitem(loaders.FAMILY_LOADERS, "varedit", load)
    return seen


def demo_files(**kwargs) -> ModelChoice:
    return ModelChoice.from_files(
        family="varedit", vae=DEMO / "vae.safetensors", transformer=DEMO / "var.safetensors",
        **kwargs,
    )  # fmt: skip


def fake_gpu(free_gb: float):
    return lambda _device: DeviceMemory("cuda", "cuda:0 (fake)", int(free_gb * GB))


def test_a_registry_model_gets_the_planners_strategy():
    cache = ModelCache(memory=fake_gpu(12))
    choice = ModelChoice(model_id="varedit-8b-512", device="cpu", dtype="bf16")
    plan = cache.plan_for(choice)
    assert plan is not None and plan.fits and plan.total <= 12 * GB
    assert cache.strategy_for(choice) == plan.strategy
    expected = choose(SHAPES["varedit-8b"], "varedit-8b-512", 512, fake_gpu(12)(None), "bf16")
    assert plan.strategy == expected.strategy and plan.strategy.int8_blocks
    roomy = ModelCache(memory=fake_gpu(80))
    assert roomy.strategy_for(choice) == RESIDENT


def test_an_explicit_strategy_wins_and_files_stay_resident():
    cache = ModelCache(memory=fake_gpu(1))
    mine = MemoryStrategy(text_encoder="cpu")
    assert cache.strategy_for(ModelChoice(model_id="varedit-8b-512", memory=mine)) == mine
    assert cache.strategy_for(demo_files()) == RESIDENT  # no shape known for bare files


def test_the_strategy_reaches_a_loader_that_takes_it_and_is_part_of_the_key(planned_loads):
    cache = ModelCache(capacity=2)
    int8 = MemoryStrategy(int8_blocks=True)
    first = cache.get(demo_files(memory=int8))
    assert planned_loads == [int8]
    assert cache.get(demo_files(memory=int8)) is first
    resident = cache.get(demo_files(memory=RESIDENT))
    assert resident is not first and planned_loads == [int8, RESIDENT]
    assert cache.get(demo_files()) in (first, resident)  # no strategy: a loaded copy serves
    assert len(planned_loads) == 2


def test_loaders_without_a_strategy_load_resident(tmp_path):
    cache = ModelCache()
    choice = ModelChoice.from_files(
        family="demo", vae=DEMO / "vae.safetensors", transformer=DEMO / "var.safetensors",
        memory=MemoryStrategy(int8_blocks=True),
    )  # fmt: skip
    model = cache.get(choice)
    assert model.memory_bytes() > 0
    assert loaders.applied_strategy("demo", MemoryStrategy(int8_blocks=True)) == RESIDENT
