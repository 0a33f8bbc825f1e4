"""A neutral dark theme: image editors use grey surroundings so colours are judged fairly."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

_ROLES = {
    QPalette.ColorRole.Window: (45, 47, 51),
    QPalette.ColorRole.WindowText: (220, 222, 226),
    QPalette.ColorRole.Base: (32, 34, 37),
    QPalette.ColorRole.AlternateBase: (50, 52, 56),
    QPalette.ColorRole.ToolTipBase: (60, 62, 66),
    QPalette.ColorRole.ToolTipText: (230, 230, 230),
    QPalette.ColorRole.Text: (220, 222, 226),
    QPalette.ColorRole.Button: (56, 58, 63),
    QPalette.ColorRole.ButtonText: (220, 222, 226),
    QPalette.ColorRole.BrightText: (255, 90, 90),
    QPalette.ColorRole.Highlight: (64, 128, 214),
    QPalette.ColorRole.HighlightedText: (255, 255, 255),
    QPalette.ColorRole.Link: (100, 160, 240),
    QPalette.ColorRole.Mid: (110, 113, 120),
    QPalette.ColorRole.PlaceholderText: (130, 133, 140),
}


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    palette = QPalette()
    for role, rgb in _ROLES.items():
        palette.setColor(role, QColor(*rgb))
    disabled = QPalette.ColorGroup.Disabled
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.WindowText,
    ):
        palette.setColor(disabled, role, QColor(120, 122, 128))
    app.setPalette(palette)
