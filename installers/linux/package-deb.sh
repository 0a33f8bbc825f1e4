#!/usr/bin/env bash
# Pack the frozen bundle as dist/finescale_<version>_amd64.deb: the app in /opt/finescale,
# /usr/bin/finescale and finescale-cli launchers, a menu entry that opens the image types the
# app reads, hicolor icons, and Depends measured with ldd (deb-depends.sh).
# Usage: package-deb.sh [BUNDLE_DIR]   (default: build/installer/dist/finescale)
set -euo pipefail
cd "$(dirname "$0")/../.."
bundle=$(cd "${1:-build/installer/dist/finescale}" && pwd)
version=$(installers/linux/version.sh)
root=${FINESCALE_BUILD_DIR:-$PWD/build/installer}/deb
rm -rf "$root" && mkdir -p "$root/DEBIAN" "$root/opt" "$root/usr/bin"
cp -a "$bundle" "$root/opt/finescale"
for name in finescale finescale-cli; do
  flag=$([[ $name == finescale-cli ]] && echo ' --cli' || true)
  printf '#!/bin/sh\nexec /opt/finescale/finescale%s "$@"\n' "$flag" > "$root/usr/bin/$name"
  chmod 755 "$root/usr/bin/$name"
done
install -Dm644 installers/linux/finescale.desktop "$root/usr/share/applications/finescale.desktop"
for png in resources/icons/hicolor/*/apps/finescale.png; do
  install -Dm644 "$png" "$root/usr/share/${png#resources/}"
done
install -Dm644 resources/icons/finescale.svg "$root/usr/share/icons/hicolor/scalable/apps/finescale.svg"
doc="$root/usr/share/doc/finescale"
install -Dm644 installers/linux/debian/copyright "$doc/copyright"
gzip -9n < installers/linux/debian/changelog > "$doc/changelog.gz"
install -d "$root/usr/share/man/man1"
for page in installers/linux/debian/*.1; do
  gzip -9n < "$page" > "$root/usr/share/man/man1/$(basename "$page").gz"
done
install -Dm644 installers/linux/debian/lintian-overrides "$root/usr/share/lintian/overrides/finescale"
find "$root" -type d -exec chmod 755 {} +
find "$root/opt" -type f -name '*.so*' -exec chmod 644 {} +  # libraries need no execute bit
chmod -R go-w "$root"
deps=$(installers/linux/deb-depends.sh "$bundle")
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@SIZE@/$size/" \
  -e "s/@DEPENDS@/$(echo "$deps" | sed -n 's/^Depends: //p')/" \
  -e "s/@RECOMMENDS@/$(echo "$deps" | sed -n 's/^Recommends: //p')/" \
  installers/linux/debian/control.in > "$root/DEBIAN/control"
mkdir -p dist
out="dist/finescale_${version}_amd64.deb"
# gzip or xz: lintian (and older dpkg) reject zstd members. xz -6 is smaller but took over 10 min
# on the 2 shared cores here, so it is the release workflow's choice (FINESCALE_DEB_Z="-Zxz -z6").
# shellcheck disable=SC2086
dpkg-deb --root-owner-group ${FINESCALE_DEB_Z:--Zgzip -z9} --threads-max=2 --build "$root" "$out" \
  > /dev/null
echo "$out"
