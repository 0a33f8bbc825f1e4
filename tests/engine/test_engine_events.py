"""The engine's event stream on a real tiny model: order, progress, cancel, failure, recovery."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading

import pytest

from engine.api import (
    GenerateRequest,
    JobCancelled,
    JobFailed,
    JobFinished,
    JobQueued,
    JobStarted,
    ModelChoice,
    ModelLoading,
    Sampling,
    ScaleProgress,
)
from engine.service import create_engine
from tests.tiny_models import TINY_PATCH_NUMS

TERMINAL = (JobFinished, JobFailed, JobCancelled)


class Recorder:
    """Collects events from the engine thread and lets a test wait for a job's end."""

    def __init__(self):
        self.events = []
        self.queue: queue.Queue = queue.Queue()

    def __call__(self, event):
        self.events.append(event)
        self.queue.put(event)

    def wait_terminal(self, job_id, timeout=60.0):
        while True:
            event = self.queue.get(timeout=timeout)
            if event.job_id == job_id and isinstance(event, TERMINAL):
                return event

    def of(self, job_id):
        return [e for e in self.events if e.job_id == job_id]


@pytest.fixture
def engine():
    recorder = Recorder()
    engine = create_engine(sink=recorder)
    engine.recorder = recorder
    yield engine
    engine.shutdown()
    assert not engine.alive


def request(paths, samples=1, **kwargs):
    model = ModelChoice.from_files(vae=paths[0], transformer=paths[1], **kwargs)
    return GenerateRequest(model=model, class_label=5, samples=samples, sampling=Sampling(seed=3))


def test_event_order_and_one_progress_per_scale(engine, tiny_checkpoints):
    job = engine.submit(request(tiny_checkpoints, samples=2))
    final = engine.recorder.wait_terminal(job)
    assert isinstance(final, JobFinished)
    events = engine.recorder.of(job)
    assert isinstance(events[0], JobQueued) and isinstance(events[1], JobStarted)
    assert any(isinstance(e, ModelLoading) for e in events)
    progress = [e for e in events if isinstance(e, ScaleProgress)]
    steps = [(e.sample_index, e.scale_index) for e in progress]
    assert steps == [(s, k) for s in range(2) for k in range(len(TINY_PATCH_NUMS))]
    assert all(e.preview is not None and e.preview.dtype.name == "uint8" for e in progress)
    assert events[-1] is final
    variations = final.result.variations
    assert [v.seed for v in variations] == [3, 4]
    assert variations[0].image.shape == (64, 64, 3)
    assert [t.shape for t in variations[0].tokens] == [(pn * pn,) for pn in TINY_PATCH_NUMS]


def test_cancel_mid_job_then_engine_keeps_serving(engine, tiny_checkpoints):
    started = threading.Event()
    recorder = engine.recorder

    def sink(event):
        recorder(event)
        if isinstance(event, ScaleProgress) and event.scale_index == 1:
            engine.cancel(event.job_id)
            started.set()

    engine.set_sink(sink)
    job = engine.submit(request(tiny_checkpoints, samples=3))
    final = recorder.wait_terminal(job)
    assert isinstance(final, JobCancelled)
    events = recorder.of(job)
    cut = next(
        i for i, e in enumerate(events) if isinstance(e, ScaleProgress) and e.scale_index == 1
    )
    assert events[cut + 1 :] == [final]  # nothing after the cancel but the terminal event
    engine.set_sink(recorder)
    again = engine.submit(request(tiny_checkpoints))
    assert isinstance(recorder.wait_terminal(again), JobFinished)


def test_failure_is_reported_in_plain_words_and_engine_recovers(engine, tiny_checkpoints, tmp_path):
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"PK\x03\x04 not really a checkpoint")
    job = engine.submit(request((str(broken), tiny_checkpoints[1])))
    final = engine.recorder.wait_terminal(job)
    assert isinstance(final, JobFailed)
    assert "broken.pth" in final.message and "Traceback" not in final.message
    assert final.detail  # the technical trace is kept for the log
    missing_gpu = engine.submit(request(tiny_checkpoints, device="cuda:7"))
    assert isinstance(engine.recorder.wait_terminal(missing_gpu), JobFailed)
    ok = engine.submit(request(tiny_checkpoints))
    assert isinstance(engine.recorder.wait_terminal(ok), JobFinished)


def test_cancel_while_queued(engine, tiny_checkpoints):
    first = engine.submit(request(tiny_checkpoints, samples=2))
    second = engine.submit(request(tiny_checkpoints))
    engine.cancel(second)
    assert isinstance(engine.recorder.wait_terminal(first), JobFinished)
    assert isinstance(engine.recorder.wait_terminal(second), JobCancelled)
    assert not any(isinstance(e, JobStarted) for e in engine.recorder.of(second))


def test_broken_sink_does_not_kill_the_worker(tiny_checkpoints):
    calls = []

    def sink(event):
        calls.append(event)
        raise RuntimeError("listener bug")

    engine = create_engine(sink=sink)
    try:
        engine.submit(request(tiny_checkpoints))
        engine.submit(request(tiny_checkpoints))
        for _ in range(600):
            if sum(isinstance(e, JobFinished) for e in calls) == 2:
                break
            threading.Event().wait(0.1)
        assert sum(isinstance(e, JobFinished) for e in calls) == 2
    finally:
        engine.shutdown()


def test_engine_never_imports_qt():
    code = (
        "import sys, engine.service, engine.pipelines.generate, engine.pipelines.inpaint, "
        "engine.pipelines.outpaint, engine.cli.main\n"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'PyQt', 'shiboken', 'app'))]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
