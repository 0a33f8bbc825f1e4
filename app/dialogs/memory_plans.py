"""The Models window's Memory column, from the engine's planner: one ``PlanRequest`` per model.

The window lists registry figures at once; each model's plan for this device ("needs ~9.8 GB
on this GPU: int8 blocks", "fits in RAM") replaces its figure when the engine answers. The
plan is arithmetic on the transfer lane, so the GUI never imports torch and never waits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QTableWidget

from app.dialogs.transfer_jobs import JobSubmitter
from app.engine_access import (
    JobCancelled,
    JobFailed,
    JobFinished,
    MemoryPlan,
    MemoryPlanned,
    ModelChoice,
    PlanRequest,
)

GB = 1e9
MEMORY_WIDTH_CAP = 420  # longer lines elide; the tooltip has the whole plan


def breakdown(plan: MemoryPlan) -> str:
    """The tooltip: every component, the total and what the device has free."""
    lines = [f"{name.replace('_', ' ')}: {size / GB:.2f} GB" for name, size in plan.components]
    lines.append(f"total: {plan.total / GB:.2f} GB at {plan.resolution} px")
    if plan.available is not None:
        lines.append(f"usable on {plan.device}: {plan.available / GB:.2f} GB")
    lines.append(f"strategy: {plan.method()}")
    return "\n".join(lines)


class MemoryPlanColumn(QObject):
    """Asks for plans and writes each answer into ``column`` of the model's row."""

    def __init__(
        self,
        table: QTableWidget,
        column: int,
        jobs: JobSubmitter,
        device: str,
        dtype: str,
        row_of: Callable[[str], int],
    ):
        super().__init__(table)
        self._table, self._column, self._jobs = table, column, jobs
        self._device, self._dtype, self._row_of = device, dtype, row_of
        self._pending: dict[str, str] = {}  # engine job id -> model id
        self.plans: dict[str, MemoryPlan] = {}
        jobs.job_event.connect(self._on_event)

    def label_header(self, text: str) -> None:
        header = self._table.horizontalHeaderItem(self._column)
        header.setText(text)
        header.setToolTip(
            "Peak memory to make one image on this device and precision, and how the model "
            "will be placed to fit (the planner's choice; hover a cell for the details)."
        )

    def request(self, model_ids: Iterable[str]) -> None:
        """Plan every listed model again (free memory changes); known plans show meanwhile."""
        for model_id in model_ids:
            if model_id in self.plans:
                self._show(model_id)
            choice = ModelChoice(model_id=model_id, device=self._device, dtype=self._dtype)
            self._pending[self._jobs.submit_job(PlanRequest(choice))] = model_id

    def _on_event(self, event: object) -> None:
        job_id = getattr(event, "job_id", None)
        model_id = self._pending.get(job_id)
        if model_id is None:
            return
        if isinstance(event, MemoryPlanned):
            self.plans[model_id] = event.plan
            self._show(model_id)
        elif isinstance(event, JobFinished | JobFailed | JobCancelled):
            # failed: a model of unknown shape (an import) keeps the registry's figure
            del self._pending[job_id]

    def _show(self, model_id: str) -> None:
        row = self._row_of(model_id)
        item = self._table.item(row, self._column) if row >= 0 else None
        if item is not None:
            plan = self.plans[model_id]
            item.setText(plan.summary())
            item.setToolTip(breakdown(plan))
            width = self._table.sizeHintForColumn(self._column) + 12
            self._table.setColumnWidth(self._column, min(MEMORY_WIDTH_CAP, width))
