"""Generation from a class or a prompt: N images with seeds ``seed, seed+1, ...``."""

from __future__ import annotations

import time

from engine.api import GenerateRequest, JobResult, Variation
from engine.models.family import Condition, token_arrays
from engine.pipelines.common import load, sample_one
from engine.runtime.jobs import JobContext


def run_generate(request: GenerateRequest, ctx: JobContext) -> JobResult:
    started = time.perf_counter()
    model = load(ctx, request.model)
    variations = []
    for index in range(request.samples):
        seed = request.sampling.seed + index
        condition = Condition(class_label=request.class_label, text=request.prompt)
        image, sampled = sample_one(
            ctx, model, condition, request.sampling, seed, index, request.samples
        )
        variations.append(Variation(image=image, seed=seed, tokens=token_arrays(sampled)))
    return JobResult(tuple(variations), time.perf_counter() - started)
