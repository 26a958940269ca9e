#!/usr/bin/env bash
# Benchmark: Facet's native model runtime beside Google's LiteRT (BlazeFace short/full, FaceMesh) and
# dlib's own C++ (face-recognition ResNet), all in one run on this machine.
# Usage: [ROUNDS=6] benchmarks/models/run.sh   (after `make setup`; writes RESULTS.md beside this script). Both
# sides run alternately ROUNDS times and each keeps its best: on a 2-vCPU VM the host sometimes gives the two
# threads of a run less than two cores, for either side, so a single round can be off by 1.5x.
# Installs its peers on the fly: ai-edge-litert into a throwaway virtualenv, libdlib-dev from Debian.
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
echo "bench: installing LiteRT into a throwaway virtualenv"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check ai-edge-litert numpy

exec python3 "$here/bench.py" --facet "$repo/.build/release/model-bench" --litert-python "$work/venv/bin/python" \
  --litert-script "$shared/bench/peer_infer_litert.py" --dlib-peer "$work/peer_dlib" --models "$models" \
  --chip "$shared/golden/dlib/chip_5pt.png" --out "$here/RESULTS.md" --repeat "${ROUNDS:-6}"
