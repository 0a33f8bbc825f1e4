"""Following downloads and imports that run as engine jobs: who submits them, how their
progress reads, and what their last event means."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import SignalInstance

from app.engine_access import (
    DownloadProgress,
    JobCancelled,
    JobFailed,
    JobFinished,
    format_bytes,
)


class JobSubmitter(Protocol):
    """What the window needs of the bridge (``app.engine_bridge.EngineBridge``)."""

    job_event: SignalInstance

    def submit_job(self, request: object) -> str: ...

    def cancel(self, job_id: str | None = None) -> None: ...


def _duration(seconds: float) -> str:
    whole = int(round(seconds))
    if whole < 60:
        return f"{max(whole, 1)} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def progress_text(event: DownloadProgress | None) -> str:
    """One line for a row's bar: bytes done of total, rate and time left."""
    if event is None:
        return "Waiting to start…"
    if event.phase == "checking":
        return f"Checking {event.filename} on the hub…"
    if event.phase == "verifying":
        return f"Verifying {event.filename}…"
    if event.phase == "done":
        return "Finishing…"
    parts = [f"{format_bytes(event.done)} of {format_bytes(event.total)}"]
    if event.rate_bps > 0:
        parts.append(f"{format_bytes(event.rate_bps)}/s")
    if event.eta_s is not None and event.rate_bps > 0:
        parts.append(f"{_duration(event.eta_s)} left")
    return " · ".join(parts)


@dataclass
class DownloadJob:
    """A running download: its engine job, and the last progress (redrawn after a refresh)."""

    job_id: str
    last: DownloadProgress | None = None
    cancelling: bool = False


def job_outcome(event: object) -> str | None:
    """ "done" | "cancelled" | "failed" for a job's last event, ``None`` for any other."""
    if isinstance(event, JobFinished):
        return "done"
    if isinstance(event, JobCancelled):
        return "cancelled"
    if isinstance(event, JobFailed):
        return "failed"
    return None


def job_failure(event: object) -> tuple[str, str]:
    if isinstance(event, JobFailed):
        return event.message, "" if event.expected else event.detail
    return "", ""
