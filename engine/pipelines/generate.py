"""Class-conditional generation: N images with seeds ``seed, seed+1, ...``."""

from __future__ import annotations

import time

from engine.api import GenerateRequest, JobResult, Variation
from engine.pipelines.common import load, sample_one, token_arrays
from engine.runtime.cancel import UserFacingError
from engine.runtime.jobs import JobContext


def run_generate(request: GenerateRequest, ctx: JobContext) -> JobResult:
    if request.samples < 1:
        raise UserFacingError("Ask for at least one sample.")
    started = time.perf_counter()
    model = load(ctx, request.model)
    variations = []
    for index in range(request.samples):
        seed = request.sampling.seed + index
        image, output = sample_one(
            ctx, model, request.class_label, request.sampling, seed, index, request.samples
        )
        variations.append(Variation(image=image, seed=seed, tokens=token_arrays(output)))
    return JobResult(tuple(variations), time.perf_counter() - started)
