"""The engine as a caller gets it: the worker lanes wired to the pipelines and a model cache.

This is the only module that knows both the runtime and the pipelines, so neither imports the
other (the import contracts in ``pyproject.toml`` hold that).
"""

from __future__ import annotations

from engine.api import JobResult, Request
from engine.pipelines import lane_of, run_request
from engine.runtime.jobs import TRANSFER_LANE, Engine, JobContext, Runner, Sink
from engine.store.cache import ModelCache


def create_engine(
    sink: Sink | None = None, runner: Runner | None = None, previews: bool = True
) -> Engine:
    """A running engine; ``runner`` replaces the model pipelines (tests of the GUI plumbing use
    it), while downloads and imports always run for real on the transfer lane.

    ``previews=False`` for callers that never show per-scale pictures (CLI, batch): the
    pipelines then skip making them.
    """
    route = run_request
    if runner is not None:

        def route(request: Request, ctx: JobContext) -> JobResult:
            chosen = run_request if lane_of(request) == TRANSFER_LANE else runner
            return chosen(request, ctx)

    return Engine(route, ModelCache(), sink=sink, lane_of=lane_of, previews=previews)


__all__ = ["Engine", "Request", "create_engine"]
