"""The import contracts in ``pyproject.toml`` hold, and they would catch a broken layer.

``lint-imports`` also runs in ``scripts/test.sh``; here it runs on a temporary copy of the tree
with one forbidden import added, to prove the contract is enforced rather than decorative.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    for name in ("engine", "app"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def add_import(path: Path, line: str) -> None:
    text = path.read_text()
    head, _, rest = text.partition("from __future__ import annotations\n")
    path.write_text(f"{head}from __future__ import annotations\n\n{line}\n{rest}")


def test_the_tree_keeps_every_contract(tree_copy):
    result = lint(tree_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("engine/models/var/build.py", "import engine.store.checkpoint  # noqa", "models know"),
        ("engine/runtime/jobs.py", "import engine.pipelines  # noqa", "runtime knows nothing"),
        ("engine/imaging/masks.py", "import PySide6.QtCore  # noqa", "never imports the GUI"),
        ("app/widgets/variations.py", "import engine.store.registry  # noqa", "only through"),
        ("engine/planning/planner.py", "import engine.store.registry  # noqa", "memory planner"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(tree_copy, module, line, contract):
    add_import(tree_copy / module, line)
    result = lint(tree_copy)
    assert result.returncode != 0
    broken = [row for row in result.stdout.splitlines() if "BROKEN" in row]
    assert any(contract in row for row in broken), result.stdout
