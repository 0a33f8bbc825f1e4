"""The layering rule: only ``app/engine_bridge.py`` imports both Qt and the engine directly."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_the_bridge_imports_qt_and_engine():
    both = sorted(
        str(path.relative_to(APP))
        for path in APP.rglob("*.py")
        if {"PySide6", "engine"} <= imported_roots(path)
    )
    assert both == ["engine_bridge.py"]


def test_the_engine_never_imports_qt():
    engine = APP.parent / "engine"
    offenders = [p.name for p in engine.rglob("*.py") if "PySide6" in imported_roots(p)]
    assert offenders == []


def test_the_guis_gateway_to_the_engine_loads_no_torch():
    """The window can be built before torch is imported (it loads on the engine thread)."""
    import subprocess
    import sys

    code = "import sys, app.engine_access, app.requests; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=APP.parent)
