"""Pipelines: one entry point per request type, dispatched by ``run_request``."""

from __future__ import annotations

from engine.api import GenerateRequest, InpaintRequest, JobResult, OutpaintRequest, Request
from engine.runtime.jobs import JobContext


def run_request(request: Request, ctx: JobContext) -> JobResult:
    """The engine's default runner."""
    if isinstance(request, GenerateRequest):
        from engine.pipelines.generate import run_generate

        return run_generate(request, ctx)
    if isinstance(request, InpaintRequest):
        from engine.pipelines.inpaint import run_inpaint

        return run_inpaint(request, ctx)
    if isinstance(request, OutpaintRequest):
        from engine.pipelines.outpaint import run_outpaint

        return run_outpaint(request, ctx)
    raise TypeError(f"no pipeline for {type(request).__name__}")
