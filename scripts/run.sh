#!/usr/bin/env bash
# Set up a virtual environment (CPU torch pinned; see README for CUDA) and start Finescale.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet "torch==2.13.0"
fi
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/python -m app "$@"
