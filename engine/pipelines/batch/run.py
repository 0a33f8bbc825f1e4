"""The batch job: list the inputs, then upscale them one by one, never stopping for a bad file.

Events, in order: ``BatchPlanned`` (the files and what was passed over), then per file
``BatchItemProgress`` (running with a fraction, then done/skipped/failed) followed by
``BatchProgress`` (finished/total and the measured ETA), and at the end ``BatchSummary``.
A full disk stops the batch cleanly (what is done stays done, the journal says where to resume);
a cancel stops it within one strip or tile of the current file.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

from engine.api import (
    OUTPUT_FORMATS,
    OVERWRITE_RULES,
    BatchItemProgress,
    BatchPlanned,
    BatchProgress,
    BatchRequest,
    BatchSummary,
    JobResult,
)
from engine.imaging.outputs import DiskFullError, sweep_stale_temps
from engine.pipelines.batch.inputs import expand_inputs, shard
from engine.pipelines.batch.item import ItemRunner, Outcome
from engine.pipelines.batch.journal import Journal
from engine.pipelines.batch.naming import check_template
from engine.pipelines.batch.upscalers import upscaler_for
from engine.runtime.cancel import JobCancelled, UserFacingError
from engine.runtime.jobs import JobContext, describe_error
from engine.runtime.progress import Throughput

STALE_TEMP_S = 3600.0  # with another shard running, only temporaries this old are surely dead


def check_request(request: BatchRequest) -> None:
    """Refuse settings that cannot work, before any file is touched."""
    check_template(request.template)
    if request.format not in OUTPUT_FORMATS:
        raise UserFacingError(f"Unknown output format {request.format!r}.")
    if request.overwrite not in OVERWRITE_RULES:
        raise UserFacingError(f"Unknown overwrite rule {request.overwrite!r}.")
    k, n = request.shard
    if not (n >= 1 and 1 <= k <= n):
        raise UserFacingError(f"Shard {k}/{n} is not valid: use K/N with 1 ≤ K ≤ N.")
    target = request.target
    sizes = (target.scale, target.width, target.height, target.max_long_side)
    if all(v is None for v in sizes) or any(v is not None and v <= 0 for v in sizes):
        raise UserFacingError("Give a scale factor, a target width or height, or a long side.")
    if not request.output_dir:
        raise UserFacingError("Choose an output folder.")


def _prepare_output(folder: str) -> None:
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise UserFacingError(
            f"{folder}: the output folder cannot be made ({exc.strerror})."
        ) from None


def _sweep(request: BatchRequest, journal: Journal, items) -> None:
    """Remove the temporaries a crashed run left in the folders this batch writes to."""
    age = STALE_TEMP_S if journal.others_running else 0.0
    folders = {os.path.join(request.output_dir, entry.subfolder) for entry in items}
    for folder in folders:
        sweep_stale_temps(folder, age)


def _run_one(runner: ItemRunner, ctx: JobContext, index: int, total: int, entry) -> Outcome:
    try:
        return runner.run(ctx, index, total, entry)
    except (JobCancelled, DiskFullError):
        raise
    except UserFacingError as exc:
        return Outcome("failed", reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - one broken file never stops the batch
        return Outcome("failed", reason=f"{os.path.basename(entry.source)}: {describe_error(exc)}")


def run_batch(request: BatchRequest, ctx: JobContext) -> JobResult:
    started = time.perf_counter()
    check_request(request)
    output_dir = os.path.abspath(request.output_dir)
    request = replace(request, output_dir=output_dir)
    expansion = expand_inputs(request.inputs, output_dir, request.recursive)
    items = shard(expansion.items, *request.shard)
    ctx.emit(
        BatchPlanned(
            ctx.job_id, output_dir, tuple(items),
            tuple(expansion.passed_over), tuple(expansion.problems),
        )
    )  # fmt: skip
    if request.plan_only:
        return JobResult((), time.perf_counter() - started, (f"{len(items)} files",))
    upscale = upscaler_for(request.model, request.fidelity, request.seed, request.tile)
    _prepare_output(output_dir)
    done, skipped = [], []
    failed = [(path, f"{os.path.basename(path)}: {why}") for path, why in expansion.problems]
    stopped = ""
    throughput = Throughput(len(items))
    with Journal(output_dir, request.shard) as journal:
        _sweep(request, journal, items)
        runner = ItemRunner(request, journal, upscale)
        for index, entry in enumerate(items):
            ctx.check_cancelled()
            began = time.perf_counter()
            try:
                outcome = _run_one(runner, ctx, index, len(items), entry)
            except DiskFullError as exc:
                stopped = str(exc)
                failed.append((entry.source, stopped))
                ctx.emit(
                    _item_event(
                        ctx, index, len(items), entry.source, Outcome("failed", "", stopped)
                    )
                )
                break
            throughput.add(time.perf_counter() - began if outcome.worked else None)
            bucket = {"done": done, "skipped": skipped, "failed": failed}[outcome.state]
            bucket.append(
                (entry.source, outcome.output if outcome.state == "done" else outcome.reason)
            )
            ctx.emit(_item_event(ctx, index, len(items), entry.source, outcome))
            ctx.emit(
                BatchProgress(
                    ctx.job_id, throughput.finished, len(items),
                    throughput.eta_s, throughput.images_per_minute,
                )
            )  # fmt: skip
    elapsed = time.perf_counter() - started
    summary = BatchSummary(
        ctx.job_id, output_dir, tuple(done), tuple(skipped), tuple(failed), elapsed, stopped
    )
    ctx.emit(summary)
    notes = (f"{len(done)} done, {len(skipped)} skipped, {len(failed)} failed",)
    return JobResult((), elapsed, notes)


def _item_event(ctx: JobContext, index: int, total: int, source: str, outcome: Outcome):
    return BatchItemProgress(
        ctx.job_id, index, total, source, outcome.state,
        1.0 if outcome.state == "done" else 0.0,
        outcome.output, outcome.reason, outcome.notes,
        *(outcome.compare or (None, None)),
    )  # fmt: skip
