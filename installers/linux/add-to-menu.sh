#!/usr/bin/env bash
# Add Finescale to this user's desktop menu (and "Open with"), pointing at this unpacked folder;
# `add-to-menu.sh --remove` takes it out again. Nothing outside ~/.local/share is touched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data="${XDG_DATA_HOME:-$HOME/.local/share}"
menu="$data/applications/finescale.desktop"
if [[ ${1:-} == --remove ]]; then
  rm -f "$menu" "$data"/icons/hicolor/*/apps/finescale.png
  echo "removed $menu"
  exit 0
fi
mkdir -p "$data/applications"
sed "s|^Exec=finescale|Exec=\"$here/finescale\"|" "$here/finescale.desktop" > "$menu"
for icon in "$here"/icons/*/apps/finescale.png; do
  size=$(basename "$(dirname "$(dirname "$icon")")")
  mkdir -p "$data/icons/hicolor/$size/apps"
  cp "$icon" "$data/icons/hicolor/$size/apps/finescale.png"
done
command -v update-desktop-database > /dev/null && update-desktop-database "$data/applications" || true
echo "added $menu"
