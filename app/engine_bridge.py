"""The only module that touches both Qt and the engine.

The engine calls its sink on an engine thread. The sink re-emits each event through a private
signal connected with a *queued* connection, so every signal below fires on the GUI thread.
Events are routed per job id:

* the **canvas job** (``submit``): "newest request wins" — submitting cancels the previous
  canvas job and its late events are dropped (a stale preview must not paint over a new one);
  its events come out of the typed signals (``scale_progress``, ``job_finished``...);
* **background jobs** (``submit_job``: batch items, downloads, imports) run alongside and never
  cancel anything; each of their events comes out of ``job_event`` with its ``job_id``.

Progress is coalesced per job: when the GUI falls behind, only each job's newest pending
``ScaleProgress`` or ``TransferProgress`` is delivered.

``start_in_background`` gives a bridge at once and builds its engine (torch, the pipelines, a
first model) on a thread, so the window shows before torch is imported; anything that needs the
engine before it is ready waits for it.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal

from engine.api import (
    JobCancelled,
    JobFailed,
    JobFinished,
    JobQueued,
    JobStarted,
    ModelLoading,
    Request,
    ScaleProgress,
    TransferProgress,
)

if TYPE_CHECKING:  # engine.service imports torch: never at start-up (see start_in_background)
    from engine.api import ModelChoice
    from engine.service import Engine, Runner

log = logging.getLogger(__name__)

TERMINAL = (JobFinished, JobFailed, JobCancelled)
PROGRESS = (ScaleProgress, TransferProgress)  # coalesced per job: only the newest counts


class _PreviewReady:
    """Marker sent instead of each preview: "take the pending preview of this job"."""

    __slots__ = ("job_id",)

    def __init__(self, job_id: str):
        self.job_id = job_id


class EngineBridge(QObject):
    """Qt face of one ``Engine``: submit/cancel in, typed signals out (GUI thread only)."""

    job_queued = Signal(str)
    job_started = Signal(str)
    model_loading = Signal(object)  # ModelLoading
    scale_progress = Signal(object)  # ScaleProgress
    job_finished = Signal(object)  # JobFinished
    job_failed = Signal(str, str)  # message, detail
    job_cancelled = Signal(str)
    busy_changed = Signal(bool)
    job_event = Signal(object)  # any event of a background job (``submit_job``)
    engine_ready = Signal()  # the engine exists (at once, or after ``start_in_background``)

    _delivered = Signal(object)

    def __init__(self, engine: Engine | None, parent: QObject | None = None):
        super().__init__(parent)
        self._engine: Engine | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._current: str | None = None
        self._background: set[str] = set()
        self._pending: dict[str, ScaleProgress | TransferProgress] = {}
        self._lock = threading.Lock()
        self._delivered.connect(self._on_delivered, Qt.ConnectionType.QueuedConnection)
        if engine is not None:
            self._attach(engine)

    def _attach(self, engine: Engine) -> None:
        engine.set_sink(self._on_engine_event)
        self._engine = engine
        self._ready.set()
        self.engine_ready.emit()

    @classmethod
    def create(cls, runner: Runner | None = None, parent: QObject | None = None) -> EngineBridge:
        """A bridge over a fresh engine (the default pipelines unless ``runner`` is given)."""
        from engine.service import create_engine

        return cls(create_engine(runner=runner), parent)

    @classmethod
    def start_in_background(
        cls, preload: ModelChoice | None = None, parent: QObject | None = None
    ) -> EngineBridge:
        """A bridge now; torch, the pipelines and ``preload`` are loaded on a thread."""
        bridge = cls(None, parent)

        def build() -> None:
            try:
                from engine.service import create_engine

                engine = create_engine()
                if preload is not None:
                    try:
                        engine.models.get(preload)
                    except Exception:  # the job that needs it reports the problem
                        log.warning("preloading %s failed", preload, exc_info=True)
                bridge._attach(engine)
            except BaseException as exc:  # noqa: BLE001 - surfaced when the engine is used
                bridge._start_error = exc
                bridge._ready.set()
                log.exception("the engine did not start")

        threading.Thread(target=build, name="finescale-engine-start", daemon=True).start()
        return bridge

    @property
    def engine(self) -> Engine:
        """The engine; waits for a background start (only a click in the first seconds does)."""
        self._ready.wait()
        if self._engine is None:
            raise RuntimeError("the engine did not start") from self._start_error
        return self._engine

    @property
    def engine_started(self) -> bool:
        return self._engine is not None

    @property
    def busy(self) -> bool:
        return self._current is not None

    def submit(self, request: Request) -> str:
        """Run ``request``; any job still running is cancelled and its events are dropped."""
        if self._current is not None:
            self.engine.cancel(self._current)
        job_id = self.engine.submit(request)
        self._current = job_id
        self.busy_changed.emit(True)
        return job_id

    def submit_job(self, request: Request) -> str:
        """Run ``request`` beside the canvas job; its events come out of ``job_event``."""
        job_id = self.engine.submit(request)
        self._background.add(job_id)
        return job_id

    def cancel(self, job_id: str | None = None) -> None:
        """Ask a job (default: the canvas job) to stop; its cancelled event follows."""
        target = job_id or self._current
        if target is not None:
            self.engine.cancel(target)

    def shutdown(self) -> None:
        self._current = None
        self._background.clear()
        self._ready.wait(60)
        if self._engine is not None:
            self._engine.set_sink(lambda event: None)
            self._engine.shutdown()

    # -- engine thread ------------------------------------------------------------------------

    def _on_engine_event(self, event: object) -> None:
        if isinstance(event, PROGRESS):
            with self._lock:
                already_signalled = event.job_id in self._pending
                self._pending[event.job_id] = event
            if not already_signalled:
                self._delivered.emit(_PreviewReady(event.job_id))
            return
        self._delivered.emit(event)

    # -- GUI thread -----------------------------------------------------------------------------

    def _on_delivered(self, event: object) -> None:
        if isinstance(event, _PreviewReady):
            with self._lock:
                event = self._pending.pop(event.job_id, None)
            if event is None:
                return
        job_id = getattr(event, "job_id", None)
        if job_id in self._background:
            if isinstance(event, TERMINAL):
                self._background.discard(job_id)
            self.job_event.emit(event)
            return
        if job_id != self._current:
            log.debug("dropping %s of a stale job", type(event).__name__)
            return
        self._deliver_canvas_event(event)

    def _deliver_canvas_event(self, event: object) -> None:
        if isinstance(event, ScaleProgress):
            self.scale_progress.emit(event)
        elif isinstance(event, ModelLoading):
            self.model_loading.emit(event)
        elif isinstance(event, JobQueued):
            self.job_queued.emit(event.job_id)
        elif isinstance(event, JobStarted):
            self.job_started.emit(event.job_id)
        elif isinstance(event, JobFinished):
            self._end()
            self.job_finished.emit(event)
        elif isinstance(event, JobFailed):
            self._end()
            self.job_failed.emit(event.message, event.detail)
        elif isinstance(event, JobCancelled):
            self._end()
            self.job_cancelled.emit(event.job_id)

    def _end(self) -> None:
        self._current = None
        self.busy_changed.emit(False)
