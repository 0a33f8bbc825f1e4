"""``PlanRequest`` as a job: the planner's answer for a model on its device, nothing loaded."""

from __future__ import annotations

import time

from engine.api import JobResult, MemoryPlanned, PlanRequest
from engine.runtime.cancel import UserFacingError
from engine.runtime.jobs import JobContext


def run_plan(request: PlanRequest, ctx: JobContext) -> JobResult:
    """Emit ``MemoryPlanned`` (the GUI's "needs ~9.8 GB on this GPU: int8 blocks"); the
    result's note is the same line, for callers that only read notes."""
    started = time.perf_counter()
    plan = ctx.models.plan_for(request.choice, request.resolution)
    if plan is None:
        raise UserFacingError("No memory plan for this model: its shape is not known.")
    ctx.emit(MemoryPlanned(ctx.job_id, plan))
    return JobResult((), time.perf_counter() - started, (plan.summary(),))
