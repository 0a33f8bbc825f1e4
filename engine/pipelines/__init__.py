"""Pipelines: one entry point per request type, dispatched by ``run_request``."""

from __future__ import annotations

from engine.api import (
    DownloadRequest,
    EditRequest,
    GenerateRequest,
    ImportRequest,
    InpaintRequest,
    JobResult,
    OutpaintRequest,
    Request,
    UpscaleRequest,
)
from engine.pipelines.edit import run_edit
from engine.pipelines.generate import run_generate
from engine.pipelines.inpaint import run_inpaint
from engine.pipelines.outpaint import run_outpaint
from engine.pipelines.transfers import run_download, run_import
from engine.pipelines.upscale import run_upscale_job
from engine.runtime.jobs import COMPUTE_LANE, JobContext

RUNNERS = {
    GenerateRequest: run_generate,
    InpaintRequest: run_inpaint,
    OutpaintRequest: run_outpaint,
    DownloadRequest: run_download,
    ImportRequest: run_import,
    EditRequest: run_edit,
    UpscaleRequest: run_upscale_job,
}


def run_request(request: Request, ctx: JobContext) -> JobResult:
    """The engine's default runner."""
    runner = RUNNERS.get(type(request))
    if runner is None:
        raise TypeError(f"no pipeline for {type(request).__name__}")
    return runner(request, ctx)


def lane_of(request: Request) -> str:
    """Which worker lane a request runs on: model jobs share the compute lane; downloads and
    imports say ``lane = "transfer"``."""
    return getattr(request, "lane", COMPUTE_LANE)
