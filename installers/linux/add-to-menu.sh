#!/usr/bin/env bash
# Add Finescale to the desktop menu for this user, pointing at this unpacked folder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
menu="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
mkdir -p "$menu"
sed "s|^Exec=finescale|Exec=\"$here/finescale\"|" "$here/finescale.desktop" > "$menu/finescale.desktop"
echo "added $menu/finescale.desktop"
