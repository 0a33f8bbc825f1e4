"""The Models window: what each model is, whether it is here, what it costs, and managing it.

Downloads and imports handle multi-GB files, so they are engine jobs on the engine's transfer
lane (never behind a fill, never holding one up), submitted through the bridge like every other
job; their events come back routed by job id, progress coalesced per job. Cancel asks the engine
to stop the job: the partial file stays and the next Download resumes it.
Errors and the folder picker go through ``Prompts`` so tests never meet a modal dialog; the
delete confirmation and "Reveal in folder" are injectable for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from app import engine_access
from app.dialogs.memory_plans import MemoryPlanColumn
from app.dialogs.models_table import (
    COLUMNS,
    MEMORY,
    PROGRESS,
    fill_row,
    size_columns,
)
from app.dialogs.transfer_jobs import (
    DownloadJob,
    JobSubmitter,
    job_failure,
    job_outcome,
    progress_text,
)
from app.engine_access import (
    RUN_DEVICE,
    RUN_DTYPE,
    DownloadProgress,
    DownloadRequest,
    ImportRequest,
    ModelRow,
    TransferProgress,
    UserFacingError,
    format_bytes,
)
from app.prompts import Prompts
from app.settings import AppSettings

IMPORT_FORMATS = (
    ("Keep files as they are", None),
    ("Store as safetensors", "keep"),
    ("Store as fp16 safetensors (half size)", "fp16"),
    ("Store as bf16 safetensors (half size)", "bf16"),
)
OFFLINE_NOTICE = (
    "Offline: HF_HUB_OFFLINE is set, so models cannot be downloaded. Use Import… to add "
    "checkpoint files you already have (copied from another machine or a USB stick)."
)


def ask_remove(parent: QWidget, question: str) -> bool:
    """The real delete confirmation (tests inject their own answer instead)."""
    answer = QMessageBox.question(
        parent, "Delete model?", question, defaultButton=QMessageBox.StandardButton.No
    )
    return answer == QMessageBox.StandardButton.Yes


class ModelsDialog(QDialog):
    """Non-modal: downloads keep running (and reporting) while the user edits images."""

    models_changed = Signal()  # installed set changed: the model picker must refresh
    status_message = Signal(str)
    download_finished = Signal(str, str)  # model id, "done" | "cancelled" | "failed"
    imported = Signal(list)  # model ids
    import_failed = Signal(str)

    def __init__(
        self,
        parent: QWidget | None,
        prompts: Prompts,
        jobs: JobSubmitter,
        settings: AppSettings | None = None,
        device: str = RUN_DEVICE,
        dtype: str = RUN_DTYPE,
        open_url: Callable[[QUrl], bool] = QDesktopServices.openUrl,
        confirm_remove: Callable[[QWidget, str], bool] = ask_remove,
    ):
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.setModal(False)
        self.resize(1280, 460)
        self._prompts, self._settings = prompts, settings
        self._device, self._dtype = engine_access.memory_device(device), dtype
        self._open_url, self._confirm_remove = open_url, confirm_remove
        self._rows: list[ModelRow] = []
        self._downloads: dict[str, DownloadJob] = {}
        self._activity: dict[str, str] = {}  # last outcome per model, shown in its row
        self._jobs = jobs
        self._download_jobs: dict[str, str] = {}  # engine job id -> model id
        self._import_job: str | None = None
        self._offline = False
        self._sized = False  # columns fit the first listing, then the user's widths are kept
        jobs.job_event.connect(self._on_job_event)
        self._build()
        self.memory_plans = MemoryPlanColumn(self.table, MEMORY, jobs, device, dtype, self.row_of)
        self.memory_plans.label_header(f"Memory ({self._device}, {self._dtype})")

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        self.offline_notice = QLabel(OFFLINE_NOTICE, self)
        self.offline_notice.setWordWrap(True)
        self.offline_notice.setVisible(False)
        layout.addWidget(self.offline_notice)

        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.table.setWordWrap(False)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        layout.addWidget(self.table)

        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.message)

        buttons = QHBoxLayout()
        self.download_button = QPushButton("Download", self)
        self.cancel_button = QPushButton("Cancel Download", self)
        self.delete_button = QPushButton("Delete", self)
        self.import_button = QPushButton("Import…", self)
        self.reveal_button = QPushButton("Reveal in Folder", self)
        self.download_button.clicked.connect(self.download_selected)
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.import_button.clicked.connect(self.import_from_disk)
        self.reveal_button.clicked.connect(self.reveal_selected)
        self.import_button.setToolTip(
            "Register checkpoint files from a folder: a VQVAE + VAR pair or a hub cache copy."
        )
        self.import_format = QComboBox(self)
        for label, convert in IMPORT_FORMATS:
            self.import_format.addItem(label, convert)
        self.import_format.setToolTip(
            "How imported VAR checkpoints are stored. Safetensors load memory-mapped (fast, no "
            "second copy in RAM); fp16/bf16 halve disk and memory at a tiny cost in accuracy."
        )
        for button in (
            self.download_button,
            self.cancel_button,
            self.delete_button,
            self.import_button,
            self.reveal_button,
        ):
            button.setAutoDefault(False)
            buttons.addWidget(button)
            if button is self.import_button:
                buttons.addWidget(self.import_format)
        buttons.addStretch(1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.reject)
        buttons.addWidget(close)
        layout.addLayout(buttons)

    # -- listing ----------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        self.refresh()  # files may have changed from the command line or another window
        super().showEvent(event)

    def refresh(self) -> None:
        """Re-read every model's status from disk; running downloads keep their bars."""
        selected = self.selected_id()
        self._offline = engine_access.hub_offline()
        self.offline_notice.setVisible(self._offline)
        self._rows = engine_access.model_rows(self._device, self._dtype)
        for row in range(self.table.rowCount()):
            self.table.removeCellWidget(row, PROGRESS)
        self.table.setRowCount(len(self._rows))
        for index, row in enumerate(self._rows):
            fill_row(self.table, index, row, self._activity.get(row.id, ""))
        for model_id in self._downloads:
            self._show_progress(model_id)
        self.memory_plans.request(row.id for row in self._rows)
        if not self._sized:
            self._sized = True
            size_columns(self.table)
        self.table.clearSelection()  # rows may have moved (an import added one, a delete removed)
        if selected is not None and self.row_of(selected) >= 0:
            self.table.selectRow(self.row_of(selected))
        self._update_buttons()

    def row_of(self, model_id: str) -> int:
        """The table row showing ``model_id``, or -1."""
        return next((i for i, row in enumerate(self._rows) if row.id == model_id), -1)

    def selected_id(self) -> str | None:
        row = self._selected_row()
        return None if row is None else row.id

    def _selected_row(self) -> ModelRow | None:
        chosen = self.table.selectionModel().selectedRows()
        return self._rows[chosen[0].row()] if chosen and chosen[0].row() < len(self._rows) else None

    def _update_buttons(self) -> None:
        row = self._selected_row()
        busy = row is not None and row.id in self._downloads
        if row is None:
            tip = "Select a model first."
        elif busy:
            tip = "Downloading…"
        elif row.status == "installed":
            tip = "Already installed."
        elif row.download_blocker is not None:
            tip = row.download_blocker
        elif self._offline:
            tip = OFFLINE_NOTICE
        else:
            tip = "Download from the Hugging Face hub; a cancelled download resumes."
        can_download = (
            row is not None
            and not busy
            and row.status != "installed"
            and row.download_blocker is None
            and not self._offline
        )
        self.download_button.setEnabled(can_download)
        self.download_button.setToolTip(tip)
        self.cancel_button.setEnabled(busy)
        self.delete_button.setEnabled(
            row is not None and row.removable and not busy and row.status != "not installed"
        )
        self.reveal_button.setEnabled(row is not None)
        self.import_button.setEnabled(self._import_job is None)

    # -- downloads --------------------------------------------------------------------------------

    def download_selected(self) -> None:
        row = self._selected_row()
        if row is None or row.id in self._downloads:
            return
        job_id = self._jobs.submit_job(DownloadRequest(row.id))
        self._download_jobs[job_id] = row.id
        self._downloads[row.id] = DownloadJob(job_id)
        self._activity.pop(row.id, None)
        self._show_progress(row.id)
        self.message.setText(f"Downloading {row.title}…")
        self._update_buttons()

    def cancel_selected(self) -> None:
        """The partial file stays on disk; the engine reports ``cancelled`` at its next chunk."""
        model_id = self.selected_id()
        job = self._downloads.get(model_id or "")
        if job is None:
            return
        job.cancelling = True
        self._jobs.cancel(job.job_id)
        self.cancel_button.setEnabled(False)
        self._show_progress(model_id)

    def _show_progress(self, model_id: str) -> None:
        index = self.row_of(model_id)
        if index < 0:
            return
        bar = self.table.cellWidget(index, PROGRESS)
        if not isinstance(bar, QProgressBar):
            bar = QProgressBar(self.table)
            bar.setRange(0, 1000)
            bar.setTextVisible(True)
            self.table.setCellWidget(index, PROGRESS, bar)
        job = self._downloads[model_id]
        event = job.last
        if job.cancelling:
            bar.setFormat("Cancelling…")
            return
        bar.setValue(round(event.fraction * 1000) if event else 0)
        text = progress_text(event)
        bar.setFormat(f"%p% · {text}" if event else text)
        bar.setToolTip(text)

    def _on_progress(self, model_id: str, event: DownloadProgress) -> None:
        job = self._downloads.get(model_id)
        if job is not None:
            job.last = event
            self._show_progress(model_id)

    def _on_finished(self, model_id: str, outcome: str, message: str, detail: str) -> None:
        job = self._downloads.pop(model_id, None)
        last = job.last if job is not None else None
        index = self.row_of(model_id)
        title = self._rows[index].title if index >= 0 else model_id
        if outcome == "done":
            text = "Downloaded."
        elif outcome == "cancelled":
            kept = (
                f"{format_bytes(last.done)} of {format_bytes(last.total)} kept"
                if last is not None and last.done
                else "nothing kept yet"
            )
            text = f"Cancelled ({kept}); Download resumes where it stopped."
        else:
            text = f"Download failed: {message}"
        self._activity[model_id] = text
        self.refresh()
        self.message.setText(f"{title}: {text}")
        self.status_message.emit(f"{title}: {text}")
        if outcome == "done":
            self.models_changed.emit()
        elif outcome == "failed":
            self._prompts.error(self, message, detail)
        self.download_finished.emit(model_id, outcome)

    # -- delete, reveal ---------------------------------------------------------------------------

    def delete_selected(self) -> None:
        row = self._selected_row()
        if row is None or row.id in self._downloads:
            return
        question = (
            f"Delete {row.title}? This frees up to {format_bytes(row.disk_bytes)}; files that "
            "another installed model uses are kept. You can download or import it again later."
        )
        if not self._confirm_remove(self, question):
            return
        try:
            freed = engine_access.remove_model(row.id)
        except UserFacingError as exc:
            self._report_error(str(exc))
            return
        except OSError as exc:
            self._report_error(f"Could not delete {row.title}: {exc.strerror or exc}.")
            return
        self._activity[row.id] = f"Deleted ({format_bytes(freed)} freed)."
        self.refresh()
        text = f"{row.title}: deleted, {format_bytes(freed)} freed."
        self.message.setText(text)
        self.status_message.emit(text)
        self.models_changed.emit()

    def reveal_selected(self) -> None:
        model_id = self.selected_id()
        if model_id is None:
            return
        folder = engine_access.model_folder(model_id)
        if not self._open_url(QUrl.fromLocalFile(str(folder))):
            self.message.setText(f"Could not open {folder} in the file manager.")

    def _report_error(self, message: str) -> None:
        self.message.setText(message)
        self._prompts.error(self, message)

    # -- import -----------------------------------------------------------------------------------

    def import_from_disk(self) -> None:
        """Ask for a folder, then validate and register its checkpoints on a worker."""
        if self._import_job is not None:
            return
        start = self._settings.last_folder() if self._settings is not None else str(Path.home())
        path = self._prompts.import_folder(self, start)
        if not path:
            return
        text = f"Importing models from {Path(path).name}…"
        self.message.setText(text)
        self.status_message.emit(text)
        convert = self.import_format.currentData()
        self._import_job = self._jobs.submit_job(ImportRequest(path, convert))
        self._update_buttons()

    def _on_import_progress(self, name: str, done: int, total: int) -> None:
        share = f" ({done / total:.0%})" if total else ""
        self.message.setText(f"Importing: reading {name}{share}…")

    def _on_import_finished(self, ids: list, outcome: str, message: str, detail: str) -> None:
        self._import_job = None
        if outcome == "done":
            self.refresh()
            if ids and self.row_of(ids[0]) >= 0:
                self.table.selectRow(self.row_of(ids[0]))
            message = f"Imported {', '.join(ids)}."
        self.message.setText(message)
        self.status_message.emit(message)
        self._update_buttons()
        if outcome == "done":
            self.models_changed.emit()
            self.imported.emit(ids)
        elif outcome == "failed":
            self._prompts.error(self, message, detail)
            self.import_failed.emit(message)

    # -- lifetime ---------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """On quit: cancel downloads (partial files stay for resuming) and the import."""
        for job in self._downloads.values():
            self._jobs.cancel(job.job_id)
        if self._import_job is not None:
            self._jobs.cancel(self._import_job)

    # -- engine events ----------------------------------------------------------------------------

    def _on_job_event(self, event: object) -> None:
        job_id = getattr(event, "job_id", None)
        if job_id in self._download_jobs:
            self._on_download_event(self._download_jobs[job_id], event)
        elif job_id is not None and job_id == self._import_job:
            self._on_import_event(event)

    def _on_download_event(self, model_id: str, event: object) -> None:
        if isinstance(event, TransferProgress) and event.download is not None:
            self._on_progress(model_id, event.download)
            return
        outcome = job_outcome(event)
        if outcome is not None:
            self._download_jobs.pop(event.job_id, None)
            message, detail = job_failure(event)
            self._on_finished(model_id, outcome, message, detail)

    def _on_import_event(self, event: object) -> None:
        if isinstance(event, TransferProgress):
            self._on_import_progress(event.name, event.bytes_done, event.bytes_total)
            return
        outcome = job_outcome(event)
        if outcome == "done":
            self._on_import_finished(list(event.result.model_ids), "done", "", "")
        elif outcome == "cancelled":
            self._on_import_finished([], "cancelled", "Import cancelled.", "")
        elif outcome == "failed":
            self._on_import_finished([], "failed", *job_failure(event))
