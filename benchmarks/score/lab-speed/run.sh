#!/usr/bin/env bash
# Times LabColour's table path against its exact path (5 rounds). Usage: benchmarks/score/lab-speed/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
swiftc -O "$repo/Sources/Foundations/Faces/LabColour.swift" "$here/main.swift" -o "$work/lab-speed"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$work/lab-speed"
