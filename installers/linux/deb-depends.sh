#!/usr/bin/env bash
# Print the .deb's Depends: the Debian packages owning every library the bundle's ELF files load
# from the system (ldd, with the bundle's own folders searched first, as at run time). Libraries
# that are missing on the build machine map to their Debian package by soname and must exist in
# apt. Libraries loaded only by optional Qt plugins (the GTK3 theme) are printed as Recommends.
# Usage: deb-depends.sh BUNDLE_DIR   -> "Depends: ..." and "Recommends: ..." lines
set -euo pipefail
bundle=$(cd "$1" && pwd)
optional='^lib(gtk|gdk)-3\.so'
libdirs=$(find "$bundle" -name '*.so*' -type f -printf '%h\n' | sort -u | tr '\n' ':')
mapfile -t elves < <(find "$bundle" -type f \( -name '*.so*' -o -perm -u+x \) \
  -exec sh -c 'head -c4 "$1" | grep -q ELF && echo "$1"' _ {} \;)
links=$(for elf in "${elves[@]}"; do LD_LIBRARY_PATH=$libdirs ldd "$elf" 2>/dev/null || true; done |
  awk '/=>/ {print $1, $3}' | sort -u | grep -v " $bundle/")
owner() {  # package owning a soname resolved at PATH (usrmerge: dpkg may know the /usr path)
  local path=$2 real
  real=$(readlink -f "$path")
  for candidate in "$path" "/usr$path" "$real" "/usr$real"; do
    dpkg -S "$candidate" 2>/dev/null | head -1 | cut -d: -f1 && return
  done
  by_soname "$1"
}
declare -A shared_package=([libgdk-3.so.0]=libgtk-3-0)  # sonames packaged under another name
by_soname() {  # libxcb-icccm.so.4 -> libxcb-icccm4, libxkbcommon-x11.so.0 -> libxkbcommon-x11-0
  [[ -n ${shared_package[$1]:-} ]] && { echo "${shared_package[$1]}"; return; }
  local base=${1%%.so.*} major=${1##*.so.}
  major=${major%%.*}
  local name=$base$major
  [[ $base =~ [0-9]$ ]] && name=$base-$major
  name=${name,,}
  apt-cache show "$name" > /dev/null 2>&1 || { echo "no Debian package for $1" >&2; exit 1; }
  echo "$name"
}
depends=() recommends=()
while read -r soname path; do
  [[ $path == not ]] && package=$(by_soname "$soname") || package=$(owner "$soname" "$path")
  if [[ $soname =~ $optional ]]; then recommends+=("$package"); else depends+=("$package"); fi
done <<< "$links"
join() { printf '%s\n' "$@" | sort -u | paste -sd, | sed 's/,/, /g'; }
echo "Depends: $(join "${depends[@]}")"
echo "Recommends: $(join "${recommends[@]}")"
