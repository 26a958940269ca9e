#!/usr/bin/env bash
# Benchmark: identify's face descriptors (dlib's face-recognition ResNet run natively) beside dlib's own C++
# (../shared/bench/peer_dlib_resnet.cpp) in one run, at batch 1 and 16, plus end-to-end `identify label`
# throughput on a clip (crop read + hash + decode + chip + descriptor + catalog write).
# Usage: benchmarks/identify/run.sh   (after `make setup`; writes RESULTS.md beside this script)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
shared="$repo/../shared"
models="${FACET_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/facet/models}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
for p in libdlib-dev libpng-dev libjpeg-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need="${need:-} $p"
done
if [ -n "${need:-}" ]; then $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need; fi

echo "bench: building dlib's peer"
g++ -O2 -std=c++14 -DDLIB_USE_BLAS -DDLIB_PNG_SUPPORT "$shared/bench/peer_dlib_resnet.cpp" -o "$work/peer_dlib" \
  $(pkg-config --cflags --libs dlib-1) -lpng -ljpeg -lopenblas

exec python3 "$here/bench.py" --bin "$repo/.build/release" --dlib-peer "$work/peer_dlib" --models "$models" \
  --chip "$shared/golden/dlib/chip_5pt.png" --clip "$repo/Datasets/samples/two_people_stage.mp4" \
  --reference "$shared/faces/images/lin-manuel-miranda.png" --work "$work" --out "$here/RESULTS.md"
