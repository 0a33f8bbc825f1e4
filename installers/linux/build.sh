#!/usr/bin/env bash
# Build the Linux bundle: a frozen onedir (PyInstaller) that passes its own --self-test, packed
# as finescale-<version>-linux-x86_64.tar.gz with a .desktop file. Works offline with a local
# PyPI mirror (torch pinned to the CPU wheel). Output in dist/ at the repository root.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
build=${FINESCALE_BUILD_DIR:-$root/build/installer}
version=$(python3 -c "import re;print(re.search(r'^version = \"(.+)\"', open('pyproject.toml').read(), re.M)[1])")

python3 -m venv "$build/venv"
"$build/venv/bin/python" -m pip install --quiet --upgrade pip
"$build/venv/bin/python" -m pip install --quiet "torch==2.13.0" pyinstaller
"$build/venv/bin/python" -m pip install --quiet "$root"
"$build/venv/bin/pyinstaller" --noconfirm --clean --log-level WARN \
  --distpath "$build/dist" --workpath "$build/work" installers/finescale.spec

bundle="$build/dist/finescale"
QT_QPA_PLATFORM=offscreen "$bundle/finescale" --self-test  # refuse to pack a broken build

stage="$build/stage/finescale-$version"
rm -rf "$build/stage" && mkdir -p "$stage"
cp -a "$bundle/." "$stage/"
cp installers/linux/finescale.desktop installers/linux/add-to-menu.sh README.md LICENSE "$stage/"
mkdir -p dist
tar -C "$build/stage" -czf "dist/finescale-$version-linux-x86_64.tar.gz" "finescale-$version"
echo "dist/finescale-$version-linux-x86_64.tar.gz"
