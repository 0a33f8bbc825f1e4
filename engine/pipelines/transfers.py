"""Downloads and imports as engine jobs: on the transfer lane, with the same event stream.

A 16 GB download runs beside model jobs (its own lane) and reports ``TransferProgress`` events
the GUI routes by job id, like every other job; cancelling keeps the partial file for resuming.
"""

from __future__ import annotations

import time

from engine.api import DownloadProgress, DownloadRequest, ImportRequest, JobResult, TransferProgress
from engine.runtime.jobs import JobContext
from engine.store.catalogue import get_model
from engine.store.download import download_model
from engine.store.importing import import_path


def run_download(request: DownloadRequest, ctx: JobContext) -> JobResult:
    started = time.perf_counter()
    spec = get_model(request.model_id)

    def progress(event: DownloadProgress) -> None:
        ctx.emit(TransferProgress(ctx.job_id, event.filename, event.done, event.total, event))

    download_model(spec, progress, ctx.token)
    return JobResult((), time.perf_counter() - started, model_ids=(spec.id,))


def run_import(request: ImportRequest, ctx: JobContext) -> JobResult:
    started = time.perf_counter()

    def progress(name: str, done: int, total: int) -> None:
        ctx.emit(TransferProgress(ctx.job_id, name, done, total))

    ids = import_path(request.path, progress, ctx.token, convert=request.convert)
    return JobResult((), time.perf_counter() - started, model_ids=tuple(ids))
