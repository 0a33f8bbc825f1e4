"""The engine: one worker thread, a queue of requests, cancellation and a typed event stream.

Events go to one ``sink`` callable, called **on the engine thread**; the GUI bridge re-emits them
as queued Qt signals. Model work never happens on the caller's thread.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from engine.api import (
    Event,
    JobCancelled,
    JobFailed,
    JobFinished,
    JobQueued,
    JobResult,
    JobStarted,
    Request,
)
from engine.runtime.cancel import CancelToken, UserFacingError
from engine.runtime.cancel import JobCancelled as JobCancelledError
from engine.runtime.memory import trim_heap

log = logging.getLogger(__name__)

Sink = Callable[[Event], None]
Runner = Callable[[Request, "JobContext"], JobResult]

COMPUTE_LANE, TRANSFER_LANE = "compute", "transfer"
# Worker threads per lane: model jobs one at a time (they share the model cache and the cores);
# a few downloads and an import side by side (they wait on the network or the disk).
LANES = {COMPUTE_LANE: 1, TRANSFER_LANE: 4}


@dataclass
class JobContext:
    """What a running pipeline may touch: its id, its cancel token and the event sink.

    ``previews`` says whether anyone looks at per-scale pictures: the GUI does, the CLI and batch
    jobs do not, and then pipelines skip making them (progress events still come, image-less).
    """

    job_id: str
    token: CancelToken
    emit: Sink
    models: object  # engine.store.cache.ModelCache; typed loosely to keep this module light
    previews: bool = True

    def check_cancelled(self) -> None:
        self.token.raise_if_cancelled()


def describe_error(exc: BaseException) -> str:
    """One plain sentence for the user; the traceback goes in the event's detail."""
    if isinstance(exc, UserFacingError):
        return str(exc)
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
        return (
            "Not enough memory for this job. Try fewer samples, a smaller image, "
            "bf16/fp16 precision or the CPU."
        )
    if isinstance(exc, FileNotFoundError):
        return f"File not found: {exc.filename or exc}"
    if isinstance(exc, OSError) and getattr(exc, "errno", None) == 28:
        return "The disk is full: nothing was written. Free some space and try again."
    return f"The job failed: {type(exc).__name__}: {exc}"


class Engine:
    """Runs requests on worker threads ("lanes"), one request at a time per lane.

    Model jobs share the ``compute`` lane; downloads and imports run on the ``transfer`` lane, so
    a 16 GB download never holds up a fill. ``lane_of`` says which lane a request takes. The
    runner (what a request does) and the model cache are given by ``engine.service``, the one
    module that wires pipelines to this worker; this module knows neither.

    Example:
        engine = Engine(run_request, ModelCache(), sink=print)
        job_id = engine.submit(GenerateRequest(model=ModelChoice(model_id="demo")))
        engine.cancel(job_id)
        engine.shutdown()
    """

    def __init__(
        self,
        runner: Runner,
        models: object,
        sink: Sink | None = None,
        lane_of: Callable[[Request], str] = lambda request: COMPUTE_LANE,
        previews: bool = True,
    ):
        self._runner = runner
        self._previews = previews
        self.models = models
        self._sink: Sink = sink or (lambda event: None)
        self._lane_of = lane_of
        self._tokens: dict[str, CancelToken] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._queues: dict[str, queue.Queue[tuple[str, Request] | None]] = {}
        self._threads: list[threading.Thread] = []
        for lane, workers in LANES.items():
            self._queues[lane] = queue.Queue()
            for index in range(workers):
                thread = threading.Thread(
                    target=self._work, args=(lane,), name=f"finescale-{lane}-{index}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def set_sink(self, sink: Sink) -> None:
        self._sink = sink

    def submit(self, request: Request) -> str:
        job_id = f"job-{next(self._ids)}"
        lane = self._lane_of(request)
        with self._lock:
            self._tokens[job_id] = CancelToken()
        self._emit(JobQueued(job_id))
        self._queues[lane].put((job_id, request))
        return job_id

    def cancel(self, job_id: str) -> None:
        with self._lock:
            token = self._tokens.get(job_id)
        if token is not None:
            token.cancel()

    def cancel_all(self) -> None:
        with self._lock:
            tokens = list(self._tokens.values())
        for token in tokens:
            token.cancel()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel everything, stop the workers and release models."""
        self.cancel_all()
        for lane, lane_queue in self._queues.items():
            for _ in range(LANES[lane]):
                lane_queue.put(None)
        for thread in self._threads:
            thread.join(timeout)
        release = getattr(self.models, "clear", None)
        if release is not None:
            release()

    @property
    def alive(self) -> bool:
        return all(thread.is_alive() for thread in self._threads)

    # ---------------------------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        try:
            self._sink(event)
        except Exception:  # a broken listener must not kill the engine
            log.exception("event sink raised")

    def _work(self, lane: str) -> None:
        while True:
            item = self._queues[lane].get()
            if item is None:
                return
            job_id, request = item
            with self._lock:
                token = self._tokens[job_id]
            try:
                self._run_one(job_id, request, token)
            finally:
                with self._lock:
                    self._tokens.pop(job_id, None)
                trim_heap()

    def _run_one(self, job_id: str, request: Request, token: CancelToken) -> None:
        if token.cancelled:
            self._emit(JobCancelled(job_id))
            return

        def emit_unless_cancelled(event: Event) -> None:
            if not token.cancelled:  # after cancel: no further events but the terminal one
                self._emit(event)

        context = JobContext(job_id, token, emit_unless_cancelled, self.models, self._previews)
        self._emit(JobStarted(job_id))
        started = time.perf_counter()
        try:
            result = self._runner(request, context)
            token.raise_if_cancelled()
        except JobCancelledError:
            self._emit(JobCancelled(job_id))
        except BaseException as exc:  # noqa: BLE001 - every failure becomes an event
            if token.cancelled:
                self._emit(JobCancelled(job_id))
                return
            log.warning("job %s failed after %.1fs", job_id, time.perf_counter() - started)
            expected = isinstance(exc, UserFacingError)
            self._emit(JobFailed(job_id, describe_error(exc), traceback.format_exc(), expected))
        else:
            self._emit(JobFinished(job_id, result))
