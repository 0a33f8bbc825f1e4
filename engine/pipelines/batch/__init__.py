"""Batch upscaling: inputs, naming, journal, progress, upscalers and the runner that uses them."""

from engine.pipelines.batch.run import run_batch

__all__ = ["run_batch"]
