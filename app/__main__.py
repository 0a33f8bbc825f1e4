"""Start the desktop app: ``python -m app [IMAGE] [--screenshot FILE.png] [--self-test]``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m app", description="Finescale image editor")
    parser.add_argument("image", nargs="?", help="an image to open")
    parser.add_argument(
        "--screenshot",
        metavar="FILE.png",
        help="render the window with demo content (headless), save it and exit",
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation end to end (demo model, window, one in-paint) and exit",
    )
    parser.add_argument(
        "--exit-when-shown",
        action="store_true",
        help=argparse.SUPPRESS,  # start-up benchmark: print "shown" once the loop runs, exit
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.screenshot or args.self_test:  # headless, isolated from the user's data
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        os.environ["FINESCALE_DATA_DIR"] = tempfile.mkdtemp(prefix="finescale-shot-")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.dialogs.gpu_dialog import install_gpu_offer
    from app.engine_bridge import EngineBridge
    from app.icon import apply_identity
    from app.main_window import MainWindow
    from app.theme import apply_dark_theme

    app = QApplication(sys.argv[:1])
    app.setApplicationName("Finescale")
    app.setOrganizationName("Finescale")
    apply_dark_theme(app)
    apply_identity(app)
    if args.self_test or args.screenshot:
        bridge = EngineBridge.create()
    else:  # the window first; torch, the pipelines and the first model load behind it
        bridge = EngineBridge.start_in_background(preload=_first_model())
    try:
        if args.self_test:
            from app.self_test import run_self_test

            return run_self_test(bridge)
        if args.screenshot:
            from app.screenshot import render_screenshot

            return render_screenshot(bridge, args.screenshot, args.image)
        window = MainWindow(bridge)
        window.show()
        if args.exit_when_shown:
            QTimer.singleShot(0, lambda: (print("shown", flush=True), app.quit()))
        else:
            install_gpu_offer(window)
        restored = window.offer_restore()
        if args.image:
            window.files.open_path(args.image, ask=restored)
        return app.exec()
    finally:
        bridge.shutdown()


def _first_model():
    """The model the panel will offer first, to load while the user opens a picture."""
    from app.engine_access import installed_models

    models = [
        entry for entry in installed_models() if entry.family not in ("quick-fill", "lanczos")
    ]
    return models[0].choice if models else None


if __name__ == "__main__":
    sys.exit(main())
