#!/usr/bin/env bash
# Set up a virtual environment (CPU torch pinned) and run lint + the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[test]"
.venv/bin/ruff format --check .
.venv/bin/ruff check .
.venv/bin/lint-imports --no-cache
QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest -q "$@"
