#!/usr/bin/env bash
# Benchmark: fetch-frames beside the ffmpeg command line on the same extraction, in one run.
# Usage: benchmarks/fetch-frames/run.sh   (after `make setup`; writes RESULTS.md beside this script)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
exec python3 "$here/bench.py" --bin "$repo/.build/release/fetch-frames" --shared "$repo/../shared" --out "$here/RESULTS.md" "$@"
