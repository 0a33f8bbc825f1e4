#!/usr/bin/env bash
# Build every package that can be built on a Linux machine, from a fresh clone, into dist/:
# the frozen bundle (once), .tar.gz, .deb, .run and the NSIS setup (placeholder payload unless a
# Windows bundle sits in build/windows/dist/finescale). The AppImage needs appimagetool from
# GitHub: built only when APPIMAGETOOL is set (the release workflow does that).
# Needs: python3 (3.11), makeself, dpkg-deb, nsis, librsvg2-bin, icoutils (apt).
set -euo pipefail
cd "$(dirname "$0")/.."
installers/icons/render.sh
installers/linux/build.sh
installers/linux/package-deb.sh
installers/linux/package-run.sh
makensis -V2 installers/windows/finescale.nsi
if [[ -n ${APPIMAGETOOL:-} ]]; then
  installers/linux/package-appimage.sh
else
  echo "AppImage skipped: set APPIMAGETOOL (appimagetool is downloaded from GitHub)"
fi
ls -l dist/
