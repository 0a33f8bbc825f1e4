"""The planner's choice on faked devices, and the ``finescale models plan`` command."""

from __future__ import annotations

import pytest

from engine.api.memory import RESIDENT, MemoryStrategy
from engine.cli.main import main
from engine.planning.planner import DeviceMemory, available_ram, choose, ladder
from engine.planning.shapes import SHAPES

GB = 10**9


def _gpu(free_gb: float) -> DeviceMemory:
    return DeviceMemory("cuda", "cuda:0 (fake)", int(free_gb * GB))


def test_8b_512_fits_a_12_gb_gpu():
    plan = choose(SHAPES["varedit-8b"], "varedit-8b-512", 512, _gpu(12), "bf16")
    assert plan.fits and plan.total <= 12 * GB
    assert plan.available == int(12 * GB * 0.9) - 300 * 10**6  # the safety margin
    assert plan.strategy.int8_blocks and plan.strategy.text_encoder == "release"
    assert plan.kv_budget is None  # never without being asked


@pytest.mark.parametrize("name, model, px", [("varedit-2b", "varedit-2b-512", 512),
                                              ("infinity-2b", "infinity-2b", 1024)])  # fmt: skip
def test_2b_models_fit_8_gb(name, model, px):
    plan = choose(SHAPES[name], model, px, _gpu(8), "bf16")
    assert plan.fits and plan.total <= 8 * GB


def test_the_first_strategy_that_fits_wins():
    roomy = choose(SHAPES["varedit-2b"], "varedit-2b-512", 512, _gpu(40), "bf16")
    assert roomy.strategy == RESIDENT
    mid = choose(SHAPES["varedit-8b"], "varedit-8b-512", 512, _gpu(24), "bf16")
    assert mid.strategy == MemoryStrategy(text_encoder="release")


def test_nothing_fits_returns_the_smallest_plan():
    plan = choose(SHAPES["varedit-8b"], "varedit-8b-1024", 1024, _gpu(12), "bf16")
    assert not plan.fits
    assert plan.strategy.stream_blocks and plan.strategy.int8_blocks
    budget = choose(SHAPES["varedit-8b"], "varedit-8b-1024", 1024, _gpu(12), "bf16", 0.1)
    assert budget.fits and budget.total < plan.total
    assert budget.kv_budget == 0.1 and "KV budget 10%" in budget.summary()


def test_ladder_skips_what_does_not_apply():
    assert all(not s.stream_blocks for s in ladder(SHAPES["varedit-2b"], "cpu"))
    var_steps = ladder(SHAPES["var-d16"], "cuda")
    assert var_steps == [RESIDENT]  # VAR runs resident: no T5, no int8/streamed blocks


def test_cpu_free_memory_is_read_from_proc():
    ram = available_ram()
    assert ram is not None and ram > 0


def test_plan_command_prints_components_and_fits(capsys):
    code = main(["models", "plan", "varedit-8b-512", "--memory", "12", "--device", "cuda"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("varedit-8b-512 at 512 px, bf16, on cuda with 12.00 GB free")
    for name in ("weights", "kv_cache", "activations", "vae", "text_encoder", "total"):
        assert any(line.split()[:1] == [name] and line.endswith(" GB") for line in lines), name
    assert "strategy: int8 blocks, blocks streamed from RAM, T5 freed after encoding" in out


def test_plan_command_fails_plainly_when_nothing_fits(capsys):
    code = main(["models", "plan", "varedit-8b-1024", "--memory", "8", "--device", "cuda"])
    captured = capsys.readouterr()
    assert code == 1
    assert "total" in captured.out
    assert captured.err.startswith("error: Nothing fits: varedit-8b-1024 needs at least")
    assert len(captured.err.strip().splitlines()) == 1


def test_plan_command_takes_a_resolution_and_a_kv_budget(capsys):
    code = main(["models", "plan", "varedit-8b-1024", "--memory", "12", "--device", "cuda",
                 "--kv-budget", "0.1"])  # fmt: skip
    assert code == 0 and "KV budget 10%" in capsys.readouterr().out
    code = main(["models", "plan", "varedit-2b-512", "--resolution", "300", "--memory", "8"])
    assert code == 1 and "not 300 px" in capsys.readouterr().err


def test_plan_command_on_this_machine_and_unknown_ids(capsys):
    assert main(["models", "plan", "demo", "--device", "cpu"]) == 0
    assert "strategy: all resident" in capsys.readouterr().out
    assert main(["models", "plan", "no-such-model"]) == 1
    assert "Unknown model 'no-such-model'" in capsys.readouterr().err
