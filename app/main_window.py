"""The main window: composition of canvas, panels, menus and status bar. No business logic.

Controllers own the behaviour (``FileController`` for files, ``JobController`` for jobs,
``Autosaver`` for crash safety); this class creates them, wires them to widgets and actions,
and handles the few window-level events (drops, close, keys that must work everywhere).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QCursor,
    QDragEnterEvent,
    QDropEvent,
    QKeyEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFrame,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QScrollArea,
    QSizePolicy,
    QWidget,
)

from app.autosave import DEFAULT_DELAY_MS, Autosaver, read_autosave
from app.batch_controller import BatchController
from app.engine_access import IMAGE_SUFFIXES, ModelEntry
from app.engine_bridge import EngineBridge
from app.file_controller import FileController
from app.job_controller import JobController
from app.models_controller import ModelsController
from app.prompts import Prompts
from app.settings import AppSettings
from app.state import history
from app.state.document import Document
from app.state.tool_settings import ToolSettings
from app.widgets.batch_panel import BatchPanel, dropped_paths
from app.widgets.canvas import Canvas
from app.widgets.generate_panel import GeneratePanel
from app.widgets.scale_progress import ScaleProgressStrip
from app.widgets.tool_bar import MaskToolBar
from app.widgets.variations import VariationsPanel

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    def __init__(
        self,
        bridge: EngineBridge,
        prompts: Prompts | None = None,
        settings: AppSettings | None = None,
        models: list[ModelEntry] | None = None,
        autosave_delay_ms: int = DEFAULT_DELAY_MS,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Finescale")
        self.resize(1280, 820)
        self.bridge = bridge
        self.prompts = prompts or Prompts()
        self.settings = settings or AppSettings()

        self.document = Document(self)
        self.tools = ToolSettings(self)
        self.canvas = Canvas(self.document, self.tools, self)
        self.setCentralWidget(self.canvas)
        self.tool_bar = MaskToolBar(self.tools, self)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.tool_bar)
        self.addActions(self.tool_bar.shortcut_actions)
        self.panel = GeneratePanel(self.tools, self)
        self.variations = VariationsPanel(self)
        self.strip = ScaleProgressStrip(self)
        scroll = QScrollArea(self)  # short screens scroll the panel instead of squashing it
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(310)
        generate = self._dock("Generate", scroll, Qt.DockWidgetArea.RightDockWidgetArea)
        self.batch = BatchController(bridge, self)
        self.batch_panel = BatchPanel(self.batch, self)
        self.batch_dock = self._dock(
            "Batch", self.batch_panel, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.tabifyDockWidget(generate, self.batch_dock)
        generate.raise_()
        self.generate_dock = generate
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea  # job output: progress, then results
        progress = self._dock("Scale progress", self.strip, bottom)
        results = self._dock("Variations", self.variations, bottom)
        self.splitDockWidget(progress, results, Qt.Orientation.Horizontal)
        self.resizeDocks([progress, results], [720, 600], Qt.Orientation.Horizontal)
        fixed = QSizePolicy.Policy.Fixed
        self.strip.setSizePolicy(QSizePolicy.Policy.Preferred, fixed)
        self.variations.setSizePolicy(QSizePolicy.Policy.Preferred, fixed)

        self.files = FileController(self, self.document, self.prompts, self.settings)
        self.jobs = JobController(
            self, bridge, self.document, self.panel, self.strip, self.variations,
            self.canvas, self.prompts, self.settings,
        )  # fmt: skip
        self.jobs.open_document = self.files.open_generated
        self.autosaver = Autosaver(self.document, self.settings.folder, autosave_delay_ms)
        self.models = ModelsController(
            self, self.panel, self.prompts, self.settings, bridge, models
        )

        self._build_status_bar()
        self._build_menus()
        self._connect()
        self.setAcceptDrops(True)
        self.refresh_models()
        self._on_modified(False)

    # -- construction -----------------------------------------------------------------------------

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.lower().replace(" ", "_"))
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(area, dock)
        return dock

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.pointer_label = QLabel("", self)
        self.size_label = QLabel("No image", self)
        self.zoom_label = QLabel("100%", self)
        self.busy_label = QLabel("", self)  # what a file read/write is doing
        self.busy_bar = QProgressBar(self)
        self.busy_bar.setRange(0, 0)  # indeterminate: decoders report no progress
        self.busy_bar.setMaximumWidth(120)
        self.busy_bar.setMaximumHeight(14)
        self.busy_bar.setTextVisible(False)
        bar.addPermanentWidget(self.busy_label)
        bar.addPermanentWidget(self.busy_bar)
        self.busy_label.hide()
        self.busy_bar.hide()
        self._busy_cursor = False
        for label in (self.pointer_label, self.size_label, self.zoom_label):
            label.setContentsMargins(8, 0, 8, 0)
            bar.addPermanentWidget(label)
        bar.showMessage("Open an image (Ctrl+O) or drop one here.")

    def _action(self, menu: QMenu, text: str, slot, *shortcuts) -> QAction:
        action = QAction(text, self)
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&Open…", self.files.open_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = file.addMenu("Open &Recent")
        self._action(file, "Open Sample &Photo", self.files.open_sample)
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file.addSeparator()
        self.save_action = self._action(file, "&Save", self.files.save, "Ctrl+S")
        self._action(file, "Save &As…", self.files.save_as, "Ctrl+Shift+S")
        self._action(file, "&Export…", self.files.export, "Ctrl+E")
        file.addSeparator()
        self._action(file, "Load Mask…", self.files.load_mask)
        self._action(file, "Save Mask…", self.files.save_mask)
        file.addSeparator()
        self._action(file, "&Quit", self.close, "Ctrl+Q")

        edit = bar.addMenu("&Edit")
        stack = self.document.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)
        edit.addSeparator()
        edit.addAction(self.tool_bar.invert)
        edit.addAction(self.tool_bar.clear)
        edit.addSeparator()
        for action in self.tool_bar.tool_actions.values():
            edit.addAction(action)

        view = bar.addMenu("&View")
        self._action(view, "Zoom &In", self.canvas.zoom_in, "+", "=", "Ctrl++")
        self._action(view, "Zoom &Out", self.canvas.zoom_out, "-", "Ctrl+-")
        self._action(view, "&Fit to Window", self.canvas.fit, "0", "Ctrl+0")
        self._action(view, "&100%", self.canvas.actual_size, "1", "Ctrl+1")
        view.addSeparator()
        view.addAction(self.tool_bar.grow_preview)

        job = bar.addMenu("&Job")
        self.generate_action = self._action(job, "&Run", self.jobs.generate, "Ctrl+Return")
        self.cancel_action = self._action(job, "&Cancel", self.jobs.cancel, "Esc")
        job.addSeparator()
        self._action(job, "&Batch Upscale…", self.show_batch, "Ctrl+B")
        models = bar.addMenu("&Models")
        self._action(models, "&Models…", self.models.open_dialog)
        self._action(models, "&Import from Folder…", self.models.import_from_disk)

    def _connect(self) -> None:
        doc = self.document
        doc.modified_changed.connect(self._on_modified)
        doc.image_replaced.connect(self._on_image_replaced)
        self.tool_bar.invert_requested.connect(doc.invert_mask)
        self.tool_bar.clear_requested.connect(doc.clear_mask)
        self.tool_bar.save_mask_requested.connect(self.files.save_mask)
        self.tool_bar.load_mask_requested.connect(self.files.load_mask)
        self.files.status_message.connect(self.show_message)
        self.files.activity_changed.connect(self._on_file_activity)
        self.files.display_ready.connect(self.canvas.prime_display)
        self.files.document_opened.connect(lambda _p: self.jobs.reset())
        self.jobs.status_message.connect(self.show_message)
        self.panel.models_requested.connect(self.models.open_dialog)
        self.panel.import_requested.connect(self.models.open_dialog)
        self.panel.download_requested.connect(self.models.open_dialog)
        self.models.status_message.connect(self.show_message)
        self.batch.status_message.connect(self.show_message)
        self.batch.finished.connect(self.show_message)
        self.panel.mode_changed.connect(self._offer_batch)
        self.canvas.zoom_changed.connect(lambda p: self.zoom_label.setText(f"{p:.0f}%"))
        self.canvas.pointer_moved.connect(self._on_pointer)
        self.autosaver.failed.connect(lambda msg: self.show_message(f"Autosave failed: {msg}"))

    # -- public -----------------------------------------------------------------------------------

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def show_batch(self) -> None:
        self.batch_dock.show()
        self.batch_dock.raise_()

    def _offer_batch(self, mode: str) -> None:
        """Upscale mode works on the open picture in the Generate panel; the Batch tab is made
        available beside it for files and folders, without hiding the mode's own settings."""
        if mode == "upscale" and not self.batch_dock.isVisible():
            self.batch_dock.show()
            self.generate_dock.raise_()

    def open_path(self, path: str | Path) -> None:
        self.files.open_path(path)

    def refresh_models(self) -> None:
        self.models.refresh()
        self.batch_panel.set_models(self.panel.models)
        self.jobs.update_blocker()

    def offer_restore(self) -> bool:
        """After a crash: offer the autosaved document; declining deletes it."""
        recovered = read_autosave(self.settings.folder)
        if recovered is None:
            return False
        if not self.prompts.restore_autosave(self, recovered.description):
            self.autosaver.discard()
            return False
        source = Path(recovered.source_path) if recovered.source_path else None
        with_history = history.restore(
            self.document, recovered.image, recovered.mask, recovered.history, source
        )
        if recovered.save_path:
            self.document.save_path = Path(recovered.save_path)
        undo = " with its undo history" if with_history else ""
        self.show_message(f"Restored {recovered.description}{undo}. Save it to keep it.")
        return True

    # -- slots ------------------------------------------------------------------------------------

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_files()
        for path in recent:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda _c=False, p=path: self.files.open_path(p))
        if not recent:
            self.recent_menu.addAction("(none)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            clear = self.recent_menu.addAction("Clear Recent")
            clear.triggered.connect(self.settings.clear_recent_files)

    def _on_modified(self, modified: bool) -> None:
        self.setWindowModified(modified)
        self.setWindowTitle(f"{self.document.display_name}[*] — Finescale")

    def _on_image_replaced(self) -> None:
        width, height = self.document.size
        self.size_label.setText(f"{width} × {height}" if width else "No image")
        self._on_modified(self.document.is_modified)

    def _on_file_activity(self, what: str) -> None:
        """Opening a 100 MP photo takes seconds: a busy bar, a busy cursor and a canvas note."""
        self.busy_label.setText(what)
        self.busy_label.setVisible(bool(what))
        self.busy_bar.setVisible(bool(what))
        self.canvas.set_busy_text(what)
        if bool(what) != self._busy_cursor:
            self._busy_cursor = bool(what)
            if what:
                QApplication.setOverrideCursor(QCursor(Qt.CursorShape.BusyCursor))
            else:
                QApplication.restoreOverrideCursor()

    def _on_pointer(self, x: int, y: int) -> None:
        width, height = self.document.size
        inside = 0 <= x < width and 0 <= y < height
        self.pointer_label.setText(f"{x}, {y}" if inside else "")

    # -- window events ----------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        path = _dropped_image(event)
        if _shift(event) and dropped_paths(event):  # Shift: into the batch, not the canvas
            event.acceptProposedAction()
        elif path is not None:
            event.acceptProposedAction()
            self.canvas.set_drop_target(Path(path).name)
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        self.canvas.set_drop_target(None)
        super().dragLeaveEvent(event)

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if _dropped_image(event) is not None or (_shift(event) and dropped_paths(event)):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self.canvas.set_drop_target(None)
        if _shift(event) and dropped_paths(event):  # Shift+drop: into the batch, not the canvas
            event.acceptProposedAction()
            self.show_batch()
            self.batch_panel.add_paths(dropped_paths(event))
            return
        path = _dropped_image(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.files.open_path(path)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Backslash and not event.isAutoRepeat():
            self.canvas.set_show_original(True)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Backslash and not event.isAutoRepeat():
            self.canvas.set_show_original(False)
            return
        super().keyReleaseEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self.files.confirm_discard():
            event.ignore()
            return
        self.jobs.cancel()
        self.batch.cancel()  # the file running is redone next time (the journal says so)
        self.files.io.wait()
        self.models.stop()
        self.autosaver.discard()  # a clean exit leaves nothing to restore
        event.accept()


def _shift(event: QDropEvent | QDragEnterEvent) -> bool:
    return bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)


def _dropped_image(event: QDropEvent | QDragEnterEvent) -> str | None:
    """The first local image file in a drag, or None."""
    mime = event.mimeData()
    if mime is None or not mime.hasUrls():
        return None
    for url in mime.urls():
        if url.isLocalFile() and Path(url.toLocalFile()).suffix.lower() in IMAGE_SUFFIXES:
            return url.toLocalFile()
    return None
