"""Worker lanes: a long transfer never holds up a model job, and both share one event stream."""

from __future__ import annotations

import threading
import time

from engine.api import (
    DownloadRequest,
    GenerateRequest,
    JobFinished,
    JobResult,
    ModelChoice,
    TransferProgress,
)
from engine.pipelines import lane_of
from engine.runtime.jobs import Engine


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_fill_runs_while_a_download_is_still_going():
    release = threading.Event()
    events: list = []

    def runner(request, ctx):
        if isinstance(request, DownloadRequest):
            ctx.emit(TransferProgress(ctx.job_id, "big.pth", 1, 100))
            assert release.wait(10), "the download was never released"
        return JobResult((), 0.0)

    engine = Engine(runner, models=None, sink=events.append, lane_of=lane_of)
    try:
        download = engine.submit(DownloadRequest("var-d16"))
        wait_for(lambda: any(isinstance(e, TransferProgress) for e in events))
        fill = engine.submit(GenerateRequest(model=ModelChoice(model_id="demo")))
        wait_for(lambda: any(isinstance(e, JobFinished) and e.job_id == fill for e in events))
        assert not any(isinstance(e, JobFinished) and e.job_id == download for e in events)
        release.set()
        wait_for(lambda: any(isinstance(e, JobFinished) and e.job_id == download for e in events))
    finally:
        release.set()
        engine.shutdown()


def test_requests_name_their_lane():
    assert lane_of(DownloadRequest("x")) == "transfer"
    assert lane_of(GenerateRequest(model=ModelChoice())) == "compute"
