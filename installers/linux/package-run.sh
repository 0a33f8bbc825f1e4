#!/usr/bin/env bash
# Pack the frozen bundle as dist/finescale-<version>-linux-x86_64.run (makeself): one file that
# unpacks itself and starts the app. `--target DIR --noexec` only unpacks; arguments after `--`
# go to the app (e.g. `./finescale-….run -- --self-test`). Pass --accept nothing: no licence page.
# Usage: package-run.sh [BUNDLE_DIR]   (default: build/installer/dist/finescale)
set -euo pipefail
cd "$(dirname "$0")/../.."
bundle=$(cd "${1:-build/installer/dist/finescale}" && pwd)
version=$(installers/linux/version.sh)
stage=${FINESCALE_BUILD_DIR:-$PWD/build/installer}/run/finescale-$version
rm -rf "$(dirname "$stage")" && mkdir -p "$stage"
cp -a "$bundle/." "$stage/"
cp installers/linux/finescale.desktop installers/linux/add-to-menu.sh README.md LICENSE "$stage/"
cp -r resources/icons/hicolor "$stage/icons"
mkdir -p dist
out="dist/finescale-$version-linux-x86_64.run"
makeself --quiet --zstd --complevel 9 --threads 2 --nox11 --sha256 "$stage" "$out" \
  "Finescale $version" ./finescale > /dev/null
echo "$out"
