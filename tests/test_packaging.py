"""What an installed (non-editable) Finescale needs besides code ships in the wheel."""

from __future__ import annotations

import ast
import fnmatch
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def package_data_patterns() -> list[str]:
    text = (ROOT / "pyproject.toml").read_text()
    match = re.search(r'^\[tool\.setuptools\.package-data\]\n"\*" = (\[.*\])$', text, re.M)
    assert match, "pyproject.toml lists package data for every package"
    return ast.literal_eval(match[1])


def test_every_shipped_resource_is_package_data():
    patterns = package_data_patterns()
    files = [p for p in (ROOT / "resources").rglob("*") if p.is_file()]
    assert any(p.suffix == ".safetensors" for p in files) and any(p.suffix == ".jpg" for p in files)
    left_out = [p for p in files if not any(fnmatch.fnmatch(p.name, pat) for pat in patterns)]
    assert left_out == [], f"add their patterns to pyproject.toml: {left_out}"
    packages = (ROOT / "pyproject.toml").read_text()
    assert '"resources*"' in packages, "resources/ is included as a package"
