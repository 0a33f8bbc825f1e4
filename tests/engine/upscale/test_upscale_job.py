"""An UpscaleRequest through the engine: events per window, a result, cancel between windows."""

from __future__ import annotations

import numpy as np

from engine.api import JobCancelled, JobFinished, ModelChoice, ScaleProgress, UpscaleRequest
from engine.service import create_engine
from tests.engine.test_engine_events import Recorder


def test_upscale_job_reports_each_window_and_can_be_cancelled(photo):
    recorder = Recorder()
    engine = create_engine(sink=recorder)
    try:
        image = np.ascontiguousarray(photo[:64, :112])  # x2 -> 224x128: two windows
        job = engine.submit(
            UpscaleRequest(image=image, scale=2, model=ModelChoice(model_id="demo"))
        )
        final = recorder.wait_terminal(job, timeout=300)
        assert isinstance(final, JobFinished)
        assert final.result.variations[0].image.shape == (128, 224, 3)
        assert "2 tiles" in final.result.notes[0]
        steps = [e.sample_index for e in recorder.of(job) if isinstance(e, ScaleProgress)]
        assert steps == [0, 1]

        def sink(event):
            recorder(event)
            if isinstance(event, ScaleProgress):
                engine.cancel(event.job_id)

        engine.set_sink(sink)
        job = engine.submit(
            UpscaleRequest(image=image, scale=2, model=ModelChoice(model_id="demo"))
        )
        assert isinstance(recorder.wait_terminal(job, timeout=300), JobCancelled)
        assert len([e for e in recorder.of(job) if isinstance(e, ScaleProgress)]) == 1
    finally:
        engine.shutdown()
