"""``python -m app --self-test``: does this installation work, end to end, without a network?

Packaged builds (and users reporting a problem) need one command that exercises what a first run
does: the shipped demo model verifies against its sha256, the window opens, and a real in-paint
runs through the engine with the pixels outside the mask coming back bit-exact. It prints one
line per check and ``OK`` (exit 0) or the first failure in plain words (exit 1).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable

import numpy as np

from app.engine_access import (
    UserFacingError,
    engine_versions,
    grow_mask,
    load_image,
    sample_photo,
    verify_model,
)
from app.engine_bridge import EngineBridge


def versions() -> str:
    import cv2
    import PIL
    import PySide6

    torch_version, cuda = engine_versions()
    parts = {
        "python": platform.python_version(),
        "torch": torch_version,
        "PySide6": PySide6.__version__,
        "numpy": np.__version__,
        "Pillow": PIL.__version__,
        "opencv": cv2.__version__,
        "cuda": cuda,
    }
    return " ".join(f"{name} {value}" for name, value in parts.items())


def check_demo_files() -> str:
    checks = verify_model("demo")
    bad = [f"{c.filename}: {c.status}" for c in checks if c.status != "ok"]
    if bad:
        raise UserFacingError("demo model damaged or missing (" + ", ".join(bad) + ")")
    return f"{len(checks)} files match their sha256"


def check_inpaint(bridge: EngineBridge) -> str:
    from app.screenshot import staged_window

    window = staged_window(bridge)
    try:
        count = window.variations.count
        grown = grow_mask(window.document.mask, window.panel.grow.value())  # Apply clears it
        window.variations.apply_button.click()
        original = load_image(sample_photo()).pixels
        changed = np.any(window.document.image != original, axis=-1)
        if changed[~grown].any():
            raise UserFacingError("pixels outside the mask changed")
        if not changed.any():
            raise UserFacingError("the model returned the image unchanged")
        return f"{count} variations, outside the mask bit-exact"
    finally:
        window.document.undo_stack.setClean()
        window.close()


def run_self_test(bridge: EngineBridge) -> int:
    steps: list[tuple[str, Callable[[], str]]] = [
        ("versions", versions),
        ("demo model", check_demo_files),
        ("in-paint through the window", lambda: check_inpaint(bridge)),
    ]
    for name, step in steps:
        started = time.perf_counter()
        try:
            detail = step()
        except Exception as exc:  # noqa: BLE001 - the one place every failure is a verdict
            print(f"{name}: FAILED: {exc}")
            return 1
        print(f"{name}: {detail} ({time.perf_counter() - started:.1f} s)")
    print("OK")
    return 0
