#!/usr/bin/env bash
# Pack the frozen bundle as dist/Finescale-<version>-x86_64.AppImage. Online only: appimagetool
# and its runtime come from GitHub (no registry reachable offline carries them), so the release
# workflow downloads it and passes APPIMAGETOOL ("path [--appimage-extract-and-run]").
# Usage: APPIMAGETOOL=... package-appimage.sh [BUNDLE_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${APPIMAGETOOL:?set APPIMAGETOOL to appimagetool (downloaded from GitHub)}"
bundle=$(cd "${1:-build/installer/dist/finescale}" && pwd)
version=$(installers/linux/version.sh)
appdir=${FINESCALE_BUILD_DIR:-$PWD/build/installer}/Finescale.AppDir
rm -rf "$appdir" && mkdir -p "$appdir/opt"
cp -a "$bundle" "$appdir/opt/finescale"
printf '#!/bin/sh\nexec "$(dirname "$(readlink -f "$0")")/opt/finescale/finescale" "$@"\n' \
  > "$appdir/AppRun"
chmod 755 "$appdir/AppRun"
cp installers/linux/finescale.desktop "$appdir/finescale.desktop"
cp resources/icons/hicolor/256x256/apps/finescale.png "$appdir/finescale.png"
for png in resources/icons/hicolor/*/apps/finescale.png; do
  install -Dm644 "$png" "$appdir/usr/share/${png#resources/}"
done
mkdir -p dist
out="dist/Finescale-$version-x86_64.AppImage"
ARCH=x86_64 $APPIMAGETOOL "$appdir" "$out"
echo "$out"
