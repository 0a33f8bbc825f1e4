"""Which models the panel offers, the Models window, and Import from disk.

Importing validates and links (or copies) checkpoint files that may be gigabytes, so it runs on
a worker thread; the result comes back as a signal and the model list is refreshed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtWidgets import QWidget

from app import engine_access
from app.engine_access import ModelEntry, UserFacingError
from app.prompts import Prompts
from app.settings import AppSettings
from app.widgets.generate_panel import GeneratePanel

log = logging.getLogger(__name__)


class _Task(QRunnable):
    def __init__(self, work: Callable[[], None]):
        super().__init__()
        self._work = work

    def run(self) -> None:
        self._work()


class ModelsController(QObject):
    status_message = Signal(str)
    imported = Signal(list)  # model ids
    import_failed = Signal(str)

    def __init__(
        self,
        window: QWidget,
        panel: GeneratePanel,
        prompts: Prompts,
        settings: AppSettings,
        fixed: list[ModelEntry] | None = None,
    ):
        super().__init__(window)
        self._window, self._panel, self._prompts, self._settings = window, panel, prompts, settings
        self._fixed = fixed
        self._dialog: QWidget | None = None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self.imported.connect(self._on_imported)
        self.import_failed.connect(self._on_import_failed)

    def refresh(self) -> None:
        entries = list(self._fixed) if self._fixed is not None else engine_access.installed_models()
        self._panel.set_models(entries)

    def open_dialog(self) -> None:
        """The models manager when it exists (another module); else a status window."""
        try:
            from app.dialogs.models_dialog import ModelsDialog
        except ImportError:
            ModelsDialog = None  # noqa: N806
        if ModelsDialog is not None:
            try:
                dialog = ModelsDialog(self._window)
            except Exception:  # noqa: BLE001 - fall back rather than crash
                log.exception("the models dialog failed to open")
            else:
                dialog.finished.connect(lambda _result: self.refresh())
                self._show(dialog)
                return
        from app.dialogs.model_status import ModelStatusDialog

        dialog = ModelStatusDialog(self._window, self._panel.models)
        dialog.import_requested.connect(dialog.accept)
        dialog.import_requested.connect(self.import_from_disk)
        self._show(dialog)

    def _show(self, dialog: QWidget) -> None:
        self._dialog = dialog
        dialog.open()

    def import_from_disk(self) -> None:
        folder = self._prompts.import_folder(self._window, self._settings.last_folder())
        if not folder:
            return
        self.status_message.emit(f"Importing models from {Path(folder).name}…")

        def work() -> None:
            try:
                ids = engine_access.import_models(folder)
            except UserFacingError as exc:
                self.import_failed.emit(str(exc))
            except Exception as exc:  # noqa: BLE001 - shown in plain words, logged in full
                log.exception("import from %s failed", folder)
                self.import_failed.emit(f"Could not import from {Path(folder).name}: {exc}")
            else:
                self.imported.emit(list(ids))

        self._pool.start(_Task(work))

    def wait(self, msecs: int = 30_000) -> bool:
        return self._pool.waitForDone(msecs)

    def _on_imported(self, ids: list) -> None:
        self.refresh()
        names = ", ".join(ids) or "nothing new"
        self.status_message.emit(f"Imported {names}.")

    def _on_import_failed(self, message: str) -> None:
        self.status_message.emit(message)
        self._prompts.error(self._window, message)
