"""``PlanRequest`` through the real engine: a ``MemoryPlanned`` event, nothing loaded."""

from __future__ import annotations

import threading

from engine.api import (
    TERMINAL_EVENTS,
    JobFailed,
    JobFinished,
    MemoryPlan,
    MemoryPlanned,
    MemoryStrategy,
    ModelChoice,
    PlanRequest,
)
from engine.api.memory import RESIDENT
from engine.service import create_engine


def run(request) -> list:
    events, done = [], threading.Event()

    def sink(event) -> None:
        events.append(event)
        if isinstance(event, TERMINAL_EVENTS):
            done.set()

    engine = create_engine(sink=sink, previews=False)
    try:
        engine.submit(request)
        assert done.wait(30)
    finally:
        engine.shutdown()
    return events


def test_a_plan_request_answers_with_the_plan_and_its_line():
    choice = ModelChoice(model_id="varedit-8b-512", device="cpu", dtype="bf16")
    events = run(PlanRequest(choice))
    planned = [e for e in events if isinstance(e, MemoryPlanned)]
    assert len(planned) == 1
    plan = planned[0].plan
    assert plan.model == "varedit-8b-512" and plan.resolution == 512 and plan.device == "cpu"
    assert {name for name, _ in plan.components} == {
        "weights", "kv_cache", "activations", "vae", "text_encoder",
    }  # fmt: skip
    finished = events[-1]
    assert isinstance(finished, JobFinished) and finished.result.notes == (plan.summary(),)


def test_a_chosen_strategy_and_resolution_are_planned_as_asked():
    mine = MemoryStrategy(int8_blocks=True, text_encoder="release")
    choice = ModelChoice(model_id="varedit-8b-512", device="cpu", dtype="bf16", memory=mine)
    events = run(PlanRequest(choice, resolution=1024))
    plan = next(e.plan for e in events if isinstance(e, MemoryPlanned))
    assert plan.strategy == mine and plan.resolution == 1024


def test_files_without_a_known_shape_fail_plainly(tmp_path):
    choice = ModelChoice.from_files(family="var", vae=tmp_path / "a", transformer=tmp_path / "b")
    events = run(PlanRequest(choice))
    assert isinstance(events[-1], JobFailed)
    assert "No memory plan for this model" in events[-1].message


def test_summary_lines():
    def plan(total: int, available: int | None, device: str, strategy=RESIDENT):
        return MemoryPlan("m", 512, strategy, (("weights", total),), available, device)

    gb = 10**9
    int8 = MemoryStrategy(int8_blocks=True)
    assert plan(9_800_000_000, 12 * gb, "cuda:0 (X)", int8).summary() == (
        "needs ~9.8 GB on this GPU: int8 blocks"
    )
    assert plan(2 * gb, 16 * gb, "cpu").summary() == "fits in RAM (~2.0 GB)"
    assert plan(20 * gb, 10 * gb, "cuda:0 (X)", int8).summary() == (
        "needs ~20.0 GB, more than the 10.0 GB free on this GPU (even with int8 blocks)"
    )
