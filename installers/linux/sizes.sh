#!/usr/bin/env bash
# What a frozen bundle is made of: MB per top-level package, then the biggest single files.
set -euo pipefail
bundle=$1
echo "total MB: $(du -sm "$bundle" | cut -f1)"
(cd "$bundle/_internal" && du -sm -- * | sort -rn | head -15)
echo "largest files (MB):"
find "$bundle" -type f -size +8M -printf '%s %P\n' | sort -rn | head -12 |
  awk '{printf "%6.1f %s\n", $1 / 1048576, $2}'
