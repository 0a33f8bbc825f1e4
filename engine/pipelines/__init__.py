"""Pipelines: one entry point per request type, dispatched by ``run_request``."""

from __future__ import annotations

from dataclasses import replace

from engine.api import (
    BatchRequest,
    DownloadRequest,
    EditRequest,
    GenerateRequest,
    ImportRequest,
    InpaintRequest,
    JobResult,
    OutpaintRequest,
    PlanRequest,
    Request,
    UpscaleRequest,
)
from engine.pipelines.batch import run_batch
from engine.pipelines.edit import run_edit
from engine.pipelines.generate import run_generate
from engine.pipelines.inpaint import run_inpaint
from engine.pipelines.memory_plan import run_plan
from engine.pipelines.outpaint import run_outpaint
from engine.pipelines.transfers import run_download, run_import
from engine.pipelines.upscale import run_upscale_job
from engine.pipelines.validation import validate_request
from engine.runtime.cancel import NonFiniteOutput
from engine.runtime.devices import resolve_device
from engine.runtime.jobs import COMPUTE_LANE, JobContext

RUNNERS = {
    GenerateRequest: run_generate,
    InpaintRequest: run_inpaint,
    OutpaintRequest: run_outpaint,
    DownloadRequest: run_download,
    ImportRequest: run_import,
    EditRequest: run_edit,
    BatchRequest: run_batch,
    UpscaleRequest: run_upscale_job,
    PlanRequest: run_plan,
}


def run_request(request: Request, ctx: JobContext) -> JobResult:
    """The engine's default runner: every request's settings are checked before it runs."""
    runner = RUNNERS.get(type(request))
    if runner is None:
        raise TypeError(f"no pipeline for {type(request).__name__}")
    validate_request(request)
    try:
        return runner(request, ctx)
    except NonFiniteOutput:
        choice = getattr(request, "model", None)
        if getattr(choice, "dtype", None) != "fp16":
            raise
    # fp16's range (65504) overflows in some models: the "black image" of other apps. Rerun
    # once in a precision with float32's range.
    fallback = "bf16" if resolve_device(request.model.device).type == "cuda" else "fp32"
    retry = replace(request, model=replace(request.model, dtype=fallback))
    result = runner(retry, ctx)
    note = f"fp16 overflowed, so the job ran again in {fallback}"
    return replace(result, notes=(*result.notes, note))


def lane_of(request: Request) -> str:
    """Which worker lane a request runs on: model jobs share the compute lane; downloads,
    imports and a batch that only lists its files say ``lane = "transfer"``."""
    return getattr(request, "lane", COMPUTE_LANE)
