"""The Models window's table: its columns and what each cell of a model's row says."""

from __future__ import annotations

from PySide6.QtWidgets import QTableWidget, QTableWidgetItem

from app.engine_access import ModelRow, format_bytes

COLUMNS = (
    "Id",
    "Model",
    "Status",
    "Size",
    "On disk",
    "Memory",
    "Progress",
    "Tasks",
    "Family",
    "Licence",
)
ID, TITLE, STATUS, SIZE, DISK, MEMORY, PROGRESS, TASKS, FAMILY, LICENCE = range(len(COLUMNS))
WIDTH_CAPS = {TITLE: 300, TASKS: 200}  # long cells elide (full text in the tooltip)
PROGRESS_WIDTH = 380  # room for "42% · 1.20 GB of 2.84 GB · 12.50 MB/s · 2 min 11 s left"


def fill_row(table: QTableWidget, index: int, row: ModelRow, activity: str = "") -> None:
    """Write one model's cells (``activity``: its download's progress text, if any)."""
    approx = "≈ " if row.size_is_estimate else ""
    memory = "—" if row.memory_gb is None else f"{row.memory_gb:.1f} GB"
    cells = {
        ID: row.id,
        TITLE: row.title,
        FAMILY: row.family,
        STATUS: row.status,
        SIZE: approx + format_bytes(row.size_bytes) + _download_note(row, approx),
        DISK: format_bytes(row.disk_bytes) if row.disk_bytes else "—",
        TASKS: ", ".join(row.tasks),
        LICENCE: row.license,
        MEMORY: memory,
        PROGRESS: activity,
    }
    for column, text in cells.items():
        item = QTableWidgetItem(text)
        item.setToolTip(row.notes if column in (ID, TITLE) else text)
        table.setItem(index, column, item)
    if row.size_is_estimate:
        table.item(index, SIZE).setToolTip("Estimated: the exact size is checked on download.")


def size_columns(table: QTableWidget) -> None:
    """Fit the columns to their text, long titles and task lists capped, room for progress."""
    table.resizeColumnsToContents()
    for column, cap in WIDTH_CAPS.items():
        table.setColumnWidth(column, min(table.columnWidth(column), cap))
    table.setColumnWidth(PROGRESS, PROGRESS_WIDTH)


def _download_note(row: ModelRow, approx: str) -> str:
    """What the download costs when it is more than what stays on disk (flan-t5-xl's shards
    are fetched, only its encoder is kept)."""
    if row.download_bytes <= row.size_bytes:
        return ""
    return f" ({approx}{format_bytes(row.download_bytes)} to download)"
