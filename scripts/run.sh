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

# Qt's X11 plugin names at most one missing system library; list them all before starting.
# scripts/qt_libs.py prints the Debian packages and exits 3 when libraries are missing.
check_qt_libs() {
  local status=0
  packages=$(.venv/bin/python scripts/qt_libs.py) || status=$?
  if [ "$status" != 0 ] && [ "$status" != 3 ]; then
    echo "Could not check Qt's system libraries (exit $status); starting anyway." >&2
    return 0
  fi
  return "$status"
}
case "$(uname -s)/${QT_QPA_PLATFORM:-xcb}" in
  Linux/xcb*)
    if ! check_qt_libs; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing the system libraries Qt needs: $packages" >&2
        # shellcheck disable=SC2086  # one word per package
        apt-get install -y --no-install-recommends $packages >&2 \
          || { apt-get update >&2 && apt-get install -y --no-install-recommends $packages >&2; }
        check_qt_libs || {
          echo "Still missing after apt-get: $packages" >&2
          exit 1
        }
      else
        echo "Install them (Debian/Ubuntu package names), then run this script again:" >&2
        echo "  sudo apt-get install $packages" >&2
        exit 1
      fi
    fi
    ;;
esac
exec .venv/bin/python -m app "$@"
