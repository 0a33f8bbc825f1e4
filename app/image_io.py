"""Image file reads and writes on a worker thread, results signalled back to the GUI thread.

Decoding a 24-megapixel JPEG or writing a large PNG takes long enough to freeze the window, so
both run on ``QThreadPool``; the worker only calls ``app.engine_access`` (no Qt objects touched
off the GUI thread except this relay's signals, which Qt queues across threads).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, Signal

from app import engine_access
from app.engine_access import UserFacingError
from app.imaging import display_image

log = logging.getLogger(__name__)


class ImageIO(QObject):
    """``load(path)`` -> ``loaded(path, Picture, QImage)`` or ``failed(path, message)``; same
    for save. The QImage is the picture ready to show (converted here, not on the GUI thread)."""

    loaded = Signal(str, object, object)
    saved = Signal(str, int)  # path, the undo index the save captured
    failed = Signal(str, str)

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None):
        super().__init__(parent)
        self._pool = pool or QThreadPool.globalInstance()

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until queued reads/writes finish (used before quitting)."""
        return self._pool.waitForDone(msecs)

    def load(self, path: str | Path) -> None:
        path = str(path)

        def work() -> None:
            try:
                picture = engine_access.load_image(path)
                display = display_image(picture.pixels)
            except UserFacingError as exc:
                self.failed.emit(path, str(exc))
            except Exception as exc:  # noqa: BLE001 - shown to the user, logged for us
                log.exception("loading %s failed", path)
                self.failed.emit(path, f"Could not open {Path(path).name}: {exc}")
            else:
                self.loaded.emit(path, picture, display)

        self._start(work)

    def save(
        self,
        pixels: np.ndarray,
        path: str | Path,
        index: int,
        icc_profile: bytes | None = None,
        exif: bytes | None = None,
        quality: int = 95,
        overwrite: bool = True,
        source_path: Path | None = None,
    ) -> None:
        """Write ``pixels``; ``index`` (the undo index it captured) comes back with ``saved``."""
        path = str(path)

        def work() -> None:
            try:
                engine_access.save_image(
                    pixels, path, icc_profile, exif, quality, overwrite, source_path
                )
            except UserFacingError as exc:
                self.failed.emit(path, str(exc))
            except Exception as exc:  # noqa: BLE001
                log.exception("saving %s failed", path)
                self.failed.emit(path, f"Could not save {Path(path).name}: {exc}")
            else:
                self.saved.emit(path, index)

        self._start(work)

    def _start(self, work: Callable[[], None]) -> None:
        # Signals are emitted on the worker; receivers live on the GUI thread, so Qt queues them.
        self._pool.start(work)
