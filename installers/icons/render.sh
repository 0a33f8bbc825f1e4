#!/usr/bin/env bash
# Render resources/icons/finescale.svg to the hicolor PNG sizes and a Windows .ico. The outputs
# are committed (they are resources); rerun this after editing the SVG.
# Needs rsvg-convert (librsvg2-bin) and icotool (icoutils).
set -euo pipefail
cd "$(dirname "$0")/../.."
svg=resources/icons/finescale.svg
out=resources/icons
sizes=(16 24 32 48 64 128 256 512)
for size in "${sizes[@]}"; do
  mkdir -p "$out/hicolor/${size}x${size}/apps"
  rsvg-convert -w "$size" -h "$size" "$svg" -o "$out/hicolor/${size}x${size}/apps/finescale.png"
done
# Windows shows up to 256 px; small sizes as bitmaps (old shells), 128/256 as PNG (-r: 10x smaller)
png() { echo "$out/hicolor/$1x$1/apps/finescale.png"; }
icotool -c -o "$out/finescale.ico" $(png 16) $(png 24) $(png 32) $(png 48) $(png 64) \
  -r $(png 128) -r $(png 256)
echo "rendered ${#sizes[@]} PNG sizes and $out/finescale.ico"
