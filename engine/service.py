"""The engine as a caller gets it: the worker lanes wired to the pipelines and a model cache.

This is the only module that knows both the runtime and the pipelines, so neither imports the
other (the import contracts in ``pyproject.toml`` hold that).
"""

from __future__ import annotations

from engine.api import Request
from engine.pipelines import lane_of, run_request
from engine.runtime.jobs import Engine, Runner, Sink
from engine.store.cache import ModelCache


def create_engine(
    sink: Sink | None = None, runner: Runner | None = None, previews: bool = True
) -> Engine:
    """A running engine; ``runner`` replaces the pipelines (tests of the plumbing use it).

    ``previews=False`` for callers that never show per-scale pictures (CLI, batch): the
    pipelines then skip making them.
    """
    return Engine(
        runner or run_request, ModelCache(), sink=sink, lane_of=lane_of, previews=previews
    )


__all__ = ["Engine", "Request", "create_engine"]
