#!/usr/bin/env bash
# Install every Linux package into a scratch place and run `finescale --self-test` from each
# (offscreen): the .deb with `dpkg -x`, the .tar.gz unpacked (plus its add-to-menu script), the
# .run with --target. Then lintian and desktop-file-validate, the NSIS script's logic under
# wine64, and the GPU-acceleration path with the frozen app (CPU torch standing in for CUDA).
# Takes minutes, so it is not part of `pytest`. `--no-build` uses what is in dist/ already.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ ${1:-} == --no-build ]] || installers/build-all.sh
version=$(installers/linux/version.sh)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export QT_QPA_PLATFORM=offscreen
self_test() {  # $1 label, $2 executable
  local started=$SECONDS
  "$2" --self-test > "$scratch/self-test.txt" 2>&1 || { cat "$scratch/self-test.txt"; exit 1; }
  tail -1 "$scratch/self-test.txt" | grep -qx OK
  echo "$1: self-test OK ($((SECONDS - started)) s)"
}

deb=dist/finescale_${version}_amd64.deb
dpkg -x "$deb" "$scratch/deb"
self_test ".deb (dpkg -x)" "$scratch/deb/opt/finescale/finescale"
grep -q 'exec /opt/finescale/finescale --cli' "$scratch/deb/usr/bin/finescale-cli"
"$scratch/deb/opt/finescale/finescale" --cli --help > /dev/null && echo ".deb: finescale-cli OK"
lintian --fail-on error "$deb"
echo ".deb: lintian has no errors"
desktop-file-validate "$scratch/deb/usr/share/applications/finescale.desktop" && echo ".desktop valid"

mkdir "$scratch/tar" && tar -C "$scratch/tar" -xzf "dist/finescale-$version-linux-x86_64.tar.gz"
self_test ".tar.gz" "$scratch/tar/finescale-$version/finescale"
XDG_DATA_HOME=$scratch/xdg "$scratch/tar/finescale-$version/add-to-menu.sh" > /dev/null
desktop-file-validate "$scratch/xdg/applications/finescale.desktop"
[[ -f $scratch/xdg/icons/hicolor/256x256/apps/finescale.png ]] && echo ".tar.gz: add-to-menu OK"

run=dist/finescale-$version-linux-x86_64.run
sh "$run" --check > /dev/null 2>&1 && echo ".run: sha256 OK"
sh "$run" --quiet --target "$scratch/run" --noexec
self_test ".run (--target)" "$scratch/run/finescale"

if command -v wine > /dev/null; then installers/windows/test-wine.sh; fi

FINESCALE_APP_COMMAND="$scratch/tar/finescale-$version/finescale" \
  PYTHONPATH=$PWD ${PYTHON:-python3} -m pytest -q -p no:cacheprovider installers/tests
echo "all installer checks passed"
