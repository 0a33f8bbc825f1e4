#!/usr/bin/env bash
# Run the NSIS setup's install and uninstall logic under wine64, silently, in a scratch prefix:
# per-user (default) then per-machine (/AllUsers). Checks files, Start-menu and desktop
# shortcuts, the Uninstall and "Open with" registry entries, that uninstalling removes them and
# keeps the user's models folder, and that /REMOVEDATA removes it.
# Usage: test-wine.sh [SETUP.exe]   (default: the placeholder build from makensis)
set -euo pipefail
cd "$(dirname "$0")/../.."
setup=$(readlink -f "${1:-dist/finescale-$(installers/linux/version.sh)-windows-x64-setup.exe}")
scratch=$(mktemp -d)
trap 'wineserver -k 2> /dev/null || true; rm -rf "$scratch"' EXIT
export HOME=$scratch/home WINEPREFIX=$scratch/prefix WINEDEBUG=-all WINEARCH=win64
export WINEDLLOVERRIDES="mscoree,mshtml=" DISPLAY=
mkdir -p "$HOME"
wineboot --init > /dev/null 2>&1
wineserver -w
user_dir="$WINEPREFIX/drive_c/users/$(whoami)"
local_app="$user_dir/AppData/Local"
fail() { echo "FAIL: $*" >&2; exit 1; }
has_key() { wine reg query "$1" > /dev/null 2>&1; }
run() { wine "$@" > /dev/null 2>&1; wineserver -w; }

check_installed() {  # $1 install dir, $2 registry root, $3 start menu, $4 desktop
  [[ -f $1/README-PLACEHOLDER.txt && -f $1/uninstall.exe && -f $1/finescale.ico ]] ||
    fail "files missing in $1"
  [[ -f $3/Finescale.lnk ]] || fail "no Start-menu shortcut in $3"
  [[ -f $4/Finescale.lnk ]] || fail "no desktop shortcut in $4"
  has_key "$2\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\Finescale" ||
    fail "no Uninstall key under $2"
  wine reg query "$2\\Software\\Classes\\.png\\OpenWithProgids" 2> /dev/null |
    grep -q Finescale.Image || fail "no Open with entry for .png under $2"
  has_key "$2\\Software\\Classes\\Finescale.Image\\shell\\open\\command" || fail "no ProgID"
  echo "installed: $1 (files, shortcuts, $2 registry entries)"
}
check_removed() {
  [[ ! -e $1 ]] || fail "$1 still there after uninstall"
  [[ ! -e $3/Finescale.lnk && ! -e $4/Finescale.lnk ]] || fail "a shortcut survived"
  ! has_key "$2\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\Finescale" ||
    fail "Uninstall key survived"
  ! has_key "$2\\Software\\Classes\\Finescale.Image" || fail "ProgID survived"
  echo "uninstalled: $1 and its shortcuts and registry entries are gone"
}

# per user (no admin needed), keeping the models
dir="$local_app/Programs/Finescale"
menu="$user_dir/AppData/Roaming/Microsoft/Windows/Start Menu/Programs"
desk="$user_dir/Desktop"
run "$setup" /S
check_installed "$dir" HKCU "$menu" "$desk"
mkdir -p "$local_app/Finescale/models" && echo weights > "$local_app/Finescale/models/kept.bin"
run "$dir/uninstall.exe" /S
check_removed "$dir" HKCU "$menu" "$desk"
[[ -f $local_app/Finescale/models/kept.bin ]] || fail "the uninstaller deleted the models"
echo "models kept: $local_app/Finescale/models"

# per machine, then the uninstaller asked to remove the data too
dir="$WINEPREFIX/drive_c/Program Files/Finescale"
menu="$WINEPREFIX/drive_c/ProgramData/Microsoft/Windows/Start Menu/Programs"
desk="$WINEPREFIX/drive_c/users/Public/Desktop"
run "$setup" /S /AllUsers
check_installed "$dir" HKLM "$menu" "$desk"
quiet=$(wine reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\Finescale' \
  /v QuietUninstallString 2> /dev/null | tr -d '\r' | sed -n 's/.*REG_SZ *//p')
[[ $quiet == *'/S /AllUsers' ]] || fail "QuietUninstallString is '$quiet'"
run "$dir/uninstall.exe" /S /AllUsers /REMOVEDATA
check_removed "$dir" HKLM "$menu" "$desk"
[[ ! -e $local_app/Finescale ]] || fail "/REMOVEDATA left $local_app/Finescale"
echo "data removed on request: $local_app/Finescale"
echo "OK"
