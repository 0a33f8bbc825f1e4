"""The only module that touches both Qt and the engine.

The engine calls its sink on the engine thread. The sink re-emits each event through a private
signal connected with a *queued* connection, so every typed signal below fires on the GUI
thread. Events of jobs other than the current one are dropped (a late preview from a cancelled
job must not paint over a new one), and previews are coalesced: when the GUI falls behind, only
the newest pending ``ScaleProgress`` is delivered.
"""

from __future__ import annotations

import logging
import threading

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
)
from engine.runtime.jobs import Engine, Runner

log = logging.getLogger(__name__)

_PREVIEW_READY = object()  # marker: "take the pending preview", sent instead of each preview


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

    _delivered = Signal(object)

    def __init__(self, engine: Engine, parent: QObject | None = None):
        super().__init__(parent)
        self._engine = engine
        self._current: str | None = None
        self._pending: ScaleProgress | None = None
        self._lock = threading.Lock()
        self._delivered.connect(self._on_delivered, Qt.ConnectionType.QueuedConnection)
        engine.set_sink(self._on_engine_event)

    @classmethod
    def create(cls, runner: Runner | None = None, parent: QObject | None = None) -> EngineBridge:
        """A bridge over a fresh engine (the default pipelines unless ``runner`` is given)."""
        return cls(Engine(runner=runner), parent)

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def current_job(self) -> str | None:
        return self._current

    @property
    def busy(self) -> bool:
        return self._current is not None

    def submit(self, request: Request) -> str:
        """Run ``request``; any job still running is cancelled and its events are dropped."""
        if self._current is not None:
            self._engine.cancel(self._current)
        job_id = self._engine.submit(request)
        self._current = job_id
        self.busy_changed.emit(True)
        return job_id

    def cancel(self) -> None:
        """Ask the current job to stop; ``job_cancelled`` follows within one scale."""
        if self._current is not None:
            self._engine.cancel(self._current)

    def shutdown(self) -> None:
        self._engine.set_sink(lambda event: None)
        self._current = None
        self._engine.shutdown()

    # -- engine thread ------------------------------------------------------------------------

    def _on_engine_event(self, event: object) -> None:
        if isinstance(event, ScaleProgress):
            with self._lock:
                already_signalled = self._pending is not None
                self._pending = event
            if not already_signalled:
                self._delivered.emit(_PREVIEW_READY)
            return
        self._delivered.emit(event)

    # -- GUI thread -----------------------------------------------------------------------------

    def _on_delivered(self, event: object) -> None:
        if event is _PREVIEW_READY:
            with self._lock:
                event, self._pending = self._pending, None
            if event is None:
                return
        if getattr(event, "job_id", None) != self._current:
            log.debug("dropping %s of a stale job", type(event).__name__)
            return
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
