#!/usr/bin/env bash
# The project version from pyproject.toml (one source for every package).
cd "$(dirname "$0")/../.."
sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1
