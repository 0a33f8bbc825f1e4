"""Which models the panel offers, and the one Models window that manages them.

The window (``ModelsDialog``) owns downloads, deletes and imports; this controller keeps the
generate panel's model list in step with it and forwards its messages to the main window.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from app import engine_access
from app.dialogs.models_dialog import ModelsDialog
from app.dialogs.transfer_jobs import JobSubmitter
from app.engine_access import ModelEntry
from app.prompts import Prompts
from app.settings import AppSettings
from app.widgets.generate_panel import GeneratePanel


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
        jobs: JobSubmitter,
        fixed: list[ModelEntry] | None = None,
    ):
        super().__init__(window)
        self._window, self._panel, self._prompts, self._settings = window, panel, prompts, settings
        self._jobs = jobs
        self._fixed = fixed
        self._dialog: ModelsDialog | None = None

    def refresh(self) -> None:
        entries = list(self._fixed) if self._fixed is not None else engine_access.installed_models()
        self._panel.set_models(entries)

    def dialog(self) -> ModelsDialog:
        """Created on first use and then kept: its downloads outlive closing the window."""
        if self._dialog is None:
            dialog = ModelsDialog(self._window, self._prompts, self._jobs, self._settings)
            dialog.models_changed.connect(self.refresh)
            dialog.status_message.connect(self.status_message)
            dialog.imported.connect(self.imported)
            dialog.import_failed.connect(self.import_failed)
            self._dialog = dialog
        return self._dialog

    def open_dialog(self) -> None:
        dialog = self.dialog()
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()

    def import_from_disk(self) -> None:
        """Menu shortcut: the import runs (and reports) in the Models window."""
        self.open_dialog()
        self.dialog().import_from_disk()

    def stop(self) -> None:
        """On quit: cancel downloads (they resume next time) and imports."""
        if self._dialog is not None:
            self._dialog.shutdown()
