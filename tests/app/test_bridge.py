"""EngineBridge: events cross to the GUI thread, stale jobs are dropped, previews coalesce."""

from __future__ import annotations

import threading

import numpy as np

from app.engine_bridge import EngineBridge
from engine.api import GenerateRequest, JobResult, ModelChoice, ScaleProgress

REQUEST = GenerateRequest(model=ModelChoice(model_id="x"))


def test_signals_arrive_on_the_gui_thread(qtbot):
    def runner(request, ctx):
        ctx.emit(ScaleProgress(ctx.job_id, 0, 1, 0, 1, np.zeros((4, 4, 3), np.uint8)))
        return JobResult((), 0.0)

    bridge = EngineBridge.create(runner=runner)
    threads = []
    bridge.scale_progress.connect(lambda _e: threads.append(threading.current_thread()))
    try:
        with qtbot.waitSignal(bridge.job_finished, timeout=5_000):
            bridge.submit(REQUEST)
    finally:
        bridge.shutdown()
    assert threads == [threading.main_thread()]


def test_previews_coalesce_when_the_gui_falls_behind(qtbot):
    burst_done = threading.Event()

    def runner(request, ctx):
        for index in range(200):
            preview = np.full((4, 4, 3), index % 256, np.uint8)
            ctx.emit(ScaleProgress(ctx.job_id, 0, 1, index, 200, preview))
        burst_done.set()
        return JobResult((), 0.0)

    bridge = EngineBridge.create(runner=runner)
    delivered: list[ScaleProgress] = []
    bridge.scale_progress.connect(delivered.append)
    try:
        with qtbot.waitSignal(bridge.job_finished, timeout=5_000):
            bridge.submit(REQUEST)
            assert burst_done.wait(5)  # the GUI thread is "busy" during the whole burst
    finally:
        bridge.shutdown()
    assert len(delivered) == 1
    assert delivered[0].scale_index == 199, "only the newest preview is delivered"


def test_failure_and_busy_state(qtbot):
    def runner(request, ctx):
        raise MemoryError()

    bridge = EngineBridge.create(runner=runner)
    busy: list[bool] = []
    bridge.busy_changed.connect(busy.append)
    try:
        with qtbot.waitSignal(bridge.job_failed, timeout=5_000) as blocker:
            bridge.submit(REQUEST)
    finally:
        bridge.shutdown()
    message, detail = blocker.args
    assert message.startswith("Not enough memory") and "MemoryError" in detail
    assert busy == [True, False] and not bridge.busy
