#!/usr/bin/env bash
# Resolve the GPU package lists (locks) for one platform, online, with pip's own resolver, into
# resources/gpu/<build>-<platform>.json (frozen into the bundle). Run it on the platform itself:
# pip evaluates dependency markers (e.g. the nvidia-* wheels, Linux only) against the host.
# Usage: gpu-locks.sh linux-x86_64|win-amd64     (needs download.pytorch.org)
set -euo pipefail
cd "$(dirname "$0")/.."
platform=$1
python=${PYTHON:-python}
torch=$($python -c "from app.gpu_env.builds import TORCH_VERSION; print(TORCH_VERSION)")
tags=$($python -c "from app.gpu_env.builds import BUILDS; print(' '.join(b.tag for b in BUILDS))")
scratch=$(mktemp -d)
mkdir -p resources/gpu
for tag in $tags; do
  $python -m pip install --quiet --dry-run --ignore-installed --only-binary=:all: \
    --target "$scratch/unused" --report "$scratch/$tag.json" \
    --index-url "https://download.pytorch.org/whl/$tag" --extra-index-url https://pypi.org/simple \
    "torch==$torch+$tag"
  $python -m app.gpu_env.lock --report "$scratch/$tag.json" --build "$tag" \
    --platform "$platform" -o "resources/gpu/$tag-$platform.json"
done
rm -rf "$scratch"
