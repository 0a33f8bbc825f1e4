"""Runs the Batch panel's queue on the engine, one background request per file.

Dropped paths are listed by the engine (a plan-only request on the transfer lane); then each
queued file is submitted alone, the next one only after the previous one's end arrives, so a
canvas job submitted meanwhile runs between two batch files. Pause cancels the running file
and puts it back in the queue; Cancel stops after cancelling it and leaves the rest queued.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Signal

from app.batch_queue import RUNNING, BatchQueue, BatchSettings
from app.engine_bridge import EngineBridge

IDLE, ACTIVE, PAUSED = "idle", "running", "paused"


class BatchController(QObject):
    row_changed = Signal(int)
    rows_added = Signal(list)
    rows_reset = Signal()
    progress_changed = Signal(int, int, str)  # finished, total, "19/50 · ETA 3 min"
    state_changed = Signal(str)  # idle | running | paused
    status_message = Signal(str)
    finished = Signal(str)  # the summary line

    def __init__(self, bridge: EngineBridge, parent: QObject | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.queue = BatchQueue()
        self.state = IDLE
        self._plans: set[str] = set()
        self._current: tuple[str, int, float] | None = None  # job id, row, start time
        self._stopping = False  # the running file was cancelled by Pause/Cancel
        bridge.job_event.connect(self._on_event)

    @property
    def busy(self) -> bool:
        """A file or a listing is still on the engine (also after Pause/Cancel, until it ends)."""
        return self._current is not None or bool(self._plans)

    # -- commands -----------------------------------------------------------------------------

    def set_settings(self, settings: BatchSettings) -> None:
        self.queue.settings = settings

    def add_paths(self, paths: list[str]) -> None:
        """Queue dropped files and folders; the engine lists them in the background."""
        if paths:
            self._plans.add(self.bridge.submit_job(self.queue.plan_request(paths)))

    def start(self) -> None:
        if self.state == ACTIVE:
            return
        self._set_state(ACTIVE)
        self._submit_next()

    def pause(self) -> None:
        if self.state == ACTIVE:
            self._set_state(PAUSED)
            self._stop_current()

    def resume(self) -> None:
        if self.state == PAUSED:
            self.start()

    def cancel(self) -> None:
        if self.state != IDLE:
            self._set_state(IDLE)
            self._stop_current()
            self.status_message.emit("Batch cancelled; the remaining files stay queued.")

    def retry_failed(self) -> None:
        for index in self.queue.retry_failed():
            self.row_changed.emit(index)
        self._emit_progress()
        self.start()

    def clear_finished(self) -> None:
        if self.state == IDLE:
            self.queue.clear_finished()
            self.rows_reset.emit()
            self._emit_progress()

    # -- engine events ------------------------------------------------------------------------

    def _on_event(self, event: object) -> None:
        job_id = getattr(event, "job_id", None)
        kind = type(event).__name__
        if job_id in self._plans:
            self._on_plan_event(job_id, kind, event)
        elif self._current is not None and job_id == self._current[0]:
            self._on_item_event(kind, event)

    def _on_plan_event(self, job_id: str, kind: str, event: object) -> None:
        if kind == "BatchPlanned":
            added = self.queue.add_planned(event)
            self.rows_added.emit(added)
            self._emit_progress()
            if self.state == ACTIVE and self._current is None:
                self._submit_next()
        elif kind == "JobFailed":
            self.status_message.emit(event.message)
        if kind in ("JobFinished", "JobFailed", "JobCancelled"):
            self._plans.discard(job_id)

    def _on_item_event(self, kind: str, event: object) -> None:
        _job, index, began = self._current
        if kind == "BatchItemProgress":
            if not (self._stopping and event.state == RUNNING):
                self.queue.apply(index, event)
                self.row_changed.emit(index)
            return
        if kind not in ("JobFinished", "JobFailed", "JobCancelled"):
            return
        self._current = None
        if kind == "JobCancelled":  # a file that finished before the cancel stays finished
            self.queue.requeue(index)
        elif kind == "JobFailed":  # the request itself failed (e.g. the output folder)
            self.queue.fail(index, event.message)
        else:
            self.queue.finish(index, time.perf_counter() - began)
        self._stopping = False
        self.row_changed.emit(index)
        self._emit_progress()
        if self.state == ACTIVE:
            self._submit_next()

    # -- helpers ------------------------------------------------------------------------------

    def _submit_next(self) -> None:
        index = self.queue.next_queued()
        if index is None:
            if not self._plans:
                self._set_state(IDLE)
                text = self.queue.overall()[2]
                self.finished.emit(
                    f"Batch finished: {text}; output in {self.queue.settings.output_dir}"
                )
            return
        job_id = self.bridge.submit_job(self.queue.request_for(index))
        self._current = (job_id, index, time.perf_counter())
        self.queue.rows[index].state = RUNNING
        self.row_changed.emit(index)

    def _stop_current(self) -> None:
        if self._current is not None:
            self._stopping = True
            self.bridge.cancel(self._current[0])

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    def _emit_progress(self) -> None:
        self.progress_changed.emit(*self.queue.overall())
