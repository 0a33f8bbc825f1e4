"""The app's identity for the desktop: window icon and the .desktop file name (Wayland).

The icon is the committed hicolor PNG set rendered from ``resources/icons/finescale.svg``, so the
window shows the same picture as the menu entry without needing Qt's SVG plugin.
"""

from __future__ import annotations

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from app.engine_access import sample_photo

ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)


def app_icon() -> QIcon:
    icon = QIcon()
    folder = sample_photo().parents[1] / "icons" / "hicolor"  # resources/, checkout or frozen
    for size in ICON_SIZES:
        path = folder / f"{size}x{size}" / "apps" / "finescale.png"
        if path.is_file():
            icon.addFile(str(path))
    return icon


def apply_identity(app: QApplication) -> None:
    app.setWindowIcon(app_icon())
    app.setDesktopFileName("finescale")  # matches finescale.desktop, so Wayland shows the icon
