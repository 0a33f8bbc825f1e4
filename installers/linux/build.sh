#!/usr/bin/env bash
# Freeze the Linux bundle once: a PyInstaller onedir that passes its own --self-test, trimmed
# (unused parts dropped by the spec, symbol tables stripped here), then packed as
# dist/finescale-<version>-linux-x86_64.tar.gz. The .deb and .run are made from the same bundle
# (package-deb.sh, package-run.sh). Works offline with a local PyPI mirror (CPU torch pinned).
# FINESCALE_BUILD_DIR moves the scratch space (default build/installer); FINESCALE_TORCH names the
# torch requirement (CI: torch==2.13.0+cpu with PIP_EXTRA_INDEX_URL=download.pytorch.org/whl/cpu).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
build=${FINESCALE_BUILD_DIR:-$root/build/installer}
version=$(installers/linux/version.sh)

python3 -m venv "$build/venv"
"$build/venv/bin/python" -m pip install --quiet --upgrade pip
"$build/venv/bin/python" -m pip install --quiet "${FINESCALE_TORCH:-torch==2.13.0}" "pyinstaller>=6.10,<7"
"$build/venv/bin/python" -m pip install --quiet "$root"
"$build/venv/bin/pyinstaller" --noconfirm --log-level WARN \
  --distpath "$build/dist" --workpath "$build/work" installers/finescale.spec

bundle="$build/dist/finescale"
# torch's and Python's own libraries carry symbol tables (89 MB in libtorch_cpu.so alone);
# wheels repaired by auditwheel (numpy.libs, cv2, Qt) are left alone: strip can break them.
python_libs=("$bundle"/_internal/libpython3*.so* "$bundle"/_internal/python3*/lib-dynload/*.so)
find "$bundle/_internal/torch/lib" -name '*.so*' -exec strip --strip-unneeded {} +
strip --strip-unneeded "${python_libs[@]}"
# The interpreter's own libraries remember the build machine's Python folder as RUNPATH
# (e.g. /root/.pyenv/...); the bundle must not search a stranger's disk.
if command -v patchelf > /dev/null; then
  for lib in "${python_libs[@]}"; do patchelf --remove-rpath "$lib"; done
fi
installers/linux/sizes.sh "$bundle" > "$build/sizes.txt"
QT_QPA_PLATFORM=offscreen "$bundle/finescale" --self-test  # refuse to pack a broken build

stage="$build/stage/finescale-$version"
rm -rf "$build/stage" && mkdir -p "$stage"
cp -a "$bundle/." "$stage/"
cp installers/linux/finescale.desktop installers/linux/add-to-menu.sh README.md LICENSE "$stage/"
cp -r resources/icons/hicolor "$stage/icons"
mkdir -p dist
tar -C "$build/stage" -czf "dist/finescale-$version-linux-x86_64.tar.gz" "finescale-$version"
echo "dist/finescale-$version-linux-x86_64.tar.gz"
