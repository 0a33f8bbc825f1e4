"""Where the app keeps its data (settings, autosave) and the few settings it remembers.

``FINESCALE_DATA_DIR`` overrides the platform folder so tests and portable installs stay
self-contained. Lists are stored as JSON strings: QSettings' native list handling differs
between INI and registry back ends.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

MAX_RECENT = 10
MAX_HISTORY = 20


def data_dir() -> Path:
    override = os.environ.get("FINESCALE_DATA_DIR")
    if override:
        folder = Path(override)
    else:
        location = QStandardPaths.StandardLocation.AppDataLocation
        folder = Path(QStandardPaths.writableLocation(location) or Path.home() / ".finescale")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class AppSettings:
    """Recent files, instruction history and the last folder, in ``settings.ini``."""

    def __init__(self, folder: Path | None = None):
        self.folder = folder or data_dir()
        self._store = QSettings(str(self.folder / "settings.ini"), QSettings.Format.IniFormat)

    def _list(self, key: str) -> list:
        raw = self._store.value(key, "[]")
        try:
            value = json.loads(str(raw))
        except ValueError:
            return []
        return value if isinstance(value, list) else []

    def _set_list(self, key: str, value: list) -> None:
        self._store.setValue(key, json.dumps(value))
        self._store.sync()

    @staticmethod
    def _push_front(items: list, item, limit: int) -> list:
        return ([item] + [x for x in items if x != item])[:limit]

    def recent_files(self) -> list[str]:
        return [p for p in self._list("recent_files") if isinstance(p, str)]

    def add_recent_file(self, path: str | Path) -> None:
        items = self._push_front(self.recent_files(), str(Path(path).resolve()), MAX_RECENT)
        self._set_list("recent_files", items)

    def clear_recent_files(self) -> None:
        self._set_list("recent_files", [])

    def instruction_history(self) -> list[str]:
        return [t for t in self._list("instructions") if isinstance(t, str)]

    def add_instruction(self, text: str) -> list[str]:
        text = text.strip()
        items = self.instruction_history()
        if text:
            items = self._push_front(items, text, MAX_HISTORY)
            self._set_list("instructions", items)
        return items

    def last_folder(self) -> str:
        return str(self._store.value("last_folder", str(Path.home())))

    def set_last_folder(self, folder: str | Path) -> None:
        self._store.setValue("last_folder", str(folder))
