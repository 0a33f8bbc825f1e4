"""Enable GPU acceleration: one dialog over ``app.gpu_env`` (which does all the work, Qt-free).

States: an offer (download, or install from a folder of wheels), work in progress (a bar that
shows bytes for downloads, a line per step), a failure (its message and Retry, which resumes),
done (Restart now), and an active GPU build (Back to CPU, optionally freeing the disk space).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QThread, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gpu_env import GpuEnvError
from app.gpu_env.manager import GB, GpuEnvManager
from app.gpu_env.offer import Offer, examine, installed_copy, offer_at_start, remember_answer
from app.gpu_env.startup import FELL_BACK, gpu_root, mark_started


class _Worker(QObject):
    progress = Signal(str, int, int)
    stage = Signal(str)
    done = Signal(str)
    failed = Signal(str)

    def __init__(self, manager: GpuEnvManager, offer: Offer, source: Path | None):
        super().__init__()
        self.manager, self.offer, self.source = manager, offer, source
        self.cancel_requested = False

    def run(self) -> None:
        try:
            site = self.manager.enable(
                self.offer.lock,
                self.source,
                progress=self.progress.emit,
                cancelled=lambda: self.cancel_requested,
                stage=self.stage.emit,
            )
        except GpuEnvError as exc:
            self.failed.emit(str(exc))
        except OSError as exc:  # anything the file system says, in its own words
            self.failed.emit(f"GPU acceleration could not be set up: {exc}.")
        else:
            self.done.emit(str(site))


class GpuDialog(QDialog):
    def __init__(self, offer: Offer, manager: GpuEnvManager, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("GPU acceleration")
        self.offer, self.manager = offer, manager
        self.source: Path | None = None
        self._thread: QThread | None = None
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.bar = QProgressBar(self)
        self.bar.hide()
        self.enable_button = QPushButton("Download and enable", self)
        self.folder_button = QPushButton("Install from a folder…", self)
        self.retry_button = QPushButton("Retry", self)
        self.restart_button = QPushButton("Restart now", self)
        self.cpu_button = QPushButton("Back to CPU", self)
        self.free_space = QCheckBox("Also delete the GPU files", self)
        self.close_button = QPushButton("Not now", self)
        buttons = QHBoxLayout()
        for button in (self.enable_button, self.folder_button, self.retry_button):
            buttons.addWidget(button)
        for widget in (self.restart_button, self.free_space, self.cpu_button, self.close_button):
            buttons.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(self.bar)
        layout.addLayout(buttons)
        self.enable_button.clicked.connect(lambda: self.start(None))
        self.folder_button.clicked.connect(self.choose_folder)
        self.retry_button.clicked.connect(lambda: self.start(self.source))
        self.restart_button.clicked.connect(restart_app)
        self.cpu_button.clicked.connect(self.back_to_cpu)
        self.close_button.clicked.connect(self.reject)
        self.show_state()

    def _only(self, *visible: QWidget) -> None:
        every = (self.enable_button, self.folder_button, self.retry_button, self.restart_button)
        for widget in (*every, self.cpu_button, self.free_space):
            widget.setVisible(widget in visible)

    def show_state(self) -> None:
        active = self.manager.active()
        if active:
            self.message.setText(
                f"GPU acceleration is on (torch {active['torch']}). Back to CPU takes effect "
                "at the next start."
            )
            self._only(self.cpu_button, self.free_space)
            self.close_button.setText("Close")
        elif self.offer.problem:
            self.message.setText(self.offer.problem)
            self._only()
            self.close_button.setText("Close")
        else:
            gpu = self.offer.driver.gpus[0].name if self.offer.driver.gpus else "NVIDIA GPU"
            size = self.offer.lock.total_bytes / GB
            self.message.setText(
                f"Finescale found a {gpu} (driver {self.offer.driver.version}). Enable GPU "
                f"acceleration? It downloads torch {self.offer.lock.torch} ({size:.1f} GB), "
                "tests it and restarts. No network? Install from a folder holding these "
                f"files: {', '.join(w.filename for w in self.offer.lock.wheels)}."
            )
            self._only(self.enable_button, self.folder_button)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder with the GPU wheel files")
        if folder:
            self.start(Path(folder))

    def start(self, source: Path | None) -> None:
        self.source = source
        self._only()
        self.bar.show()
        self.bar.setRange(0, 0)
        self.close_button.setText("Stop")
        self._thread = QThread(self)
        self.worker = _Worker(self.manager, self.offer, source)
        self.worker.moveToThread(self._thread)
        self._thread.started.connect(self.worker.run)
        self.worker.progress.connect(self.on_progress)
        self.worker.stage.connect(self.on_stage)
        self.worker.done.connect(self.on_done)
        self.worker.failed.connect(self.on_failed)
        for signal in (self.worker.done, self.worker.failed):
            signal.connect(self._thread.quit)
        self._thread.start()

    def on_progress(self, name: str, done: int, total: int) -> None:
        self.message.setText(f"Downloading {name}: {done / GB:.2f} of {total / GB:.2f} GB")
        self.bar.setRange(0, 1000)
        self.bar.setValue(int(1000 * done / total) if total else 0)

    def on_stage(self, text: str) -> None:
        self.message.setText(text + "…")
        self.bar.setRange(0, 0)
        self.close_button.setEnabled(text == "Downloading")  # only a download stops at once

    def on_done(self, site: str) -> None:
        self.close_button.setEnabled(True)
        self.bar.hide()
        self.message.setText("GPU acceleration is installed and passed the self-test.")
        self._only(self.restart_button)
        self.close_button.setText("Restart later")

    def on_failed(self, text: str) -> None:
        self.close_button.setEnabled(True)
        self.bar.hide()
        self.message.setText(text)
        self._only(self.retry_button, self.folder_button)
        self.close_button.setText("Close")

    def back_to_cpu(self) -> None:
        self.manager.use_cpu(remove=self.free_space.isChecked())
        self.message.setText("Finescale uses the CPU from the next start.")
        self._only(self.restart_button)

    def reject(self) -> None:
        if self._thread is not None and self._thread.isRunning():
            if not self.close_button.isEnabled():
                return  # unpacking or testing: Esc waits for the step to end
            self.worker.cancel_requested = True  # a download stops; Retry resumes it
            self._thread.quit()
            self._thread.wait()
        if self.manager.active() is None and self.offer.lock is not None:
            remember_answer(self.manager.root, "later")
        super().reject()


def restart_app() -> None:
    """Start a fresh copy (which picks the torch ``active.json`` names), then quit this one."""
    command = GpuEnvManager(gpu_root()).command
    env_var = "FINESCALE_TORCH_ENV"
    os.environ.pop(env_var, None)  # let the new process read active.json itself
    QProcess.startDetached(command[0], command[1:])
    QApplication.quit()


def install_gpu_offer(window: QMainWindow) -> None:
    """Add Models > GPU acceleration…, and on an installed copy's first start, ask once."""
    root = gpu_root()
    mark_started(root)
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions() if a.menu()}
    menu = menus.get("Models") or window.menuBar().addMenu("&Help")
    action = menu.addAction("GPU acceleration…")
    action.triggered.connect(lambda: GpuDialog(examine(), GpuEnvManager(root), window).exec())
    if os.environ.get(FELL_BACK):
        QTimer.singleShot(0, lambda: _tell_fell_back(window, root))
    elif installed_copy() and not (root / "offer.json").is_file():
        offer = examine()
        if offer_at_start(root, offer):
            QTimer.singleShot(0, lambda: GpuDialog(offer, GpuEnvManager(root), window).exec())


def _tell_fell_back(window: QMainWindow, root: Path) -> None:
    answer = QMessageBox.question(
        window,
        "GPU acceleration",
        "The GPU build did not open its window last time, so Finescale started with the CPU. "
        "Try the GPU build again at the next start?",
    )
    if answer == QMessageBox.StandardButton.Yes:
        GpuEnvManager(root).retry_failed()
