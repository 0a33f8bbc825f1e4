"""The Batch panel's queue: rows, their states, the requests that run them, the overall ETA.

Pure Python (no Qt), so the rules are plain to test. The GUI runs a batch as **one engine
request per file**: the engine has a single compute lane, and a canvas job submitted while a
batch file runs is queued behind that one file only — the next file is submitted after it, so
the canvas job goes first between batch items. Pausing cancels the running file (it goes back
to the queue and is redone from the start, as the journal would after a crash).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import numpy as np

from engine.api import (
    BatchEntry,
    BatchItemProgress,
    BatchPlanned,
    BatchRequest,
    ModelChoice,
    UpscaleTarget,
)
from engine.runtime.progress import Throughput, format_eta

QUEUED, RUNNING, DONE, SKIPPED, FAILED = "queued", "running", "done", "skipped", "failed"
STATE_LABELS = {
    QUEUED: "Queued",
    RUNNING: "Running",
    DONE: "Done",
    SKIPPED: "Skipped",
    FAILED: "Failed",
}


@dataclass(frozen=True)
class BatchSettings:
    """What the panel's settings contribute to every file's request."""

    output_dir: str = ""
    scale: int = 4
    model: ModelChoice | None = None  # None = fast Lanczos
    format: str = "same"
    quality: int = 95
    template: str = "{name}_x{scale}.{ext}"
    overwrite: str = "skip"
    recursive: bool = True


@dataclass
class Row:
    entry: BatchEntry
    state: str = QUEUED
    fraction: float = 0.0
    output: str = ""
    reason: str = ""
    before: np.ndarray | None = None  # centre crops of a done file, for the compare view
    after: np.ndarray | None = None

    @property
    def name(self) -> str:
        return os.path.join(self.entry.subfolder, os.path.basename(self.entry.source))


@dataclass
class BatchQueue:
    settings: BatchSettings = field(default_factory=BatchSettings)
    rows: list[Row] = field(default_factory=list)
    passed_over: int = 0
    throughput: Throughput = field(default_factory=lambda: Throughput(0))

    def default_output(self, paths: list[str]) -> str:
        """``<folder of the first input>/upscaled`` until the user picks another."""
        first = os.path.abspath(paths[0])
        base = first if os.path.isdir(first) else os.path.dirname(first)
        return os.path.join(base, "upscaled")

    def plan_request(self, paths: list[str]) -> BatchRequest:
        """Lists what ``paths`` hold (runs on the transfer lane: no model job waits for it)."""
        output = self.settings.output_dir or self.default_output(paths)
        return BatchRequest(
            inputs=tuple(paths), output_dir=output, recursive=self.settings.recursive,
            plan_only=True,
        )  # fmt: skip

    def add_planned(self, event: BatchPlanned) -> list[int]:
        """New rows for the listed files (files already queued are not added twice)."""
        known = {row.entry.source for row in self.rows}
        added = []
        for entry in event.items:
            if entry.source not in known:
                self.rows.append(Row(entry))
                added.append(len(self.rows) - 1)
        for path, reason in event.problems:
            self.rows.append(Row(BatchEntry(path), FAILED, reason=reason))
            added.append(len(self.rows) - 1)
        self.passed_over += len(event.passed_over)
        if not self.settings.output_dir:
            self.settings = replace(self.settings, output_dir=event.output_dir)
        return added

    def request_for(self, index: int) -> BatchRequest:
        s = self.settings
        return BatchRequest(
            inputs=(self.rows[index].entry,),
            output_dir=s.output_dir,
            target=UpscaleTarget(scale=s.scale),
            model=s.model,
            template=s.template,
            format=s.format,
            quality=s.quality,
            overwrite=s.overwrite,
        )

    def next_queued(self) -> int | None:
        return next((i for i, row in enumerate(self.rows) if row.state == QUEUED), None)

    def apply(self, index: int, event: BatchItemProgress) -> None:
        row = self.rows[index]
        row.state = event.state
        row.fraction = event.fraction if event.state == RUNNING else float(event.state == DONE)
        row.output = event.output
        row.reason = event.reason
        if event.state == DONE:
            row.before, row.after = event.before, event.after

    def finish(self, index: int, seconds: float) -> None:
        """The file's request ended: count it toward the measured throughput."""
        self.throughput.add(seconds if self.rows[index].state == DONE else None)

    def requeue(self, index: int) -> None:
        """A paused or cancelled file is redone from the start."""
        row = self.rows[index]
        row.state, row.fraction, row.output, row.reason = QUEUED, 0.0, "", ""

    def fail(self, index: int, reason: str) -> None:
        row = self.rows[index]
        row.state, row.reason = FAILED, reason

    def retry_failed(self) -> list[int]:
        indices = [i for i, row in enumerate(self.rows) if row.state == FAILED]
        for index in indices:
            self.requeue(index)
        return indices

    def clear_finished(self) -> None:
        self.rows = [row for row in self.rows if row.state in (QUEUED, RUNNING)]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATE_LABELS, 0)
        for row in self.rows:
            counts[row.state] += 1
        return counts

    def overall(self) -> tuple[int, int, str]:
        """(finished, total, "19/50 · ETA 3 min · 2 failed")."""
        counts = self.counts()
        finished = counts[DONE] + counts[SKIPPED] + counts[FAILED]
        total = len(self.rows)
        parts = [f"{finished}/{total}"]
        left = counts[QUEUED] + counts[RUNNING]
        per = self.throughput.seconds_per_image
        eta = format_eta(per * left) if left and per is not None else ""
        if eta:
            parts.append(eta)
        if counts[FAILED]:
            parts.append(f"{counts[FAILED]} failed")
        return finished, total, " · ".join(parts)
