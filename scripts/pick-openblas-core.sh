#!/usr/bin/env bash
# Measures Debian's OpenBLAS sgemm with each kernel family this CPU can run and records the fastest in
# ${XDG_CACHE_HOME:-~/.cache}/facet/openblas-coretype. Facet's tools that use OpenBLAS read it and start
# with OPENBLAS_CORETYPE set to it (OpenBLAS picks its kernels when it loads, by CPU model, and its pick
# is not always the fastest). Idempotent: re-measures only when the file is missing or the CPU changed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${XDG_CACHE_HOME:-$HOME/.cache}/facet/openblas-coretype"
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) / $(grep -E '^(cpu family|model|stepping)\s' /proc/cpuinfo | head -3 | tr -d ' \t' | tr '\n' ' ')"
if [ -f "$out" ] && [ "$(sed -n 2p "$out")" = "# $cpu" ]; then
  echo "openblas: using $(head -1 "$out") (measured before for this CPU)"
  exit 0
fi
flags="$(grep -m1 '^flags' /proc/cpuinfo)"
has() { for f in "$@"; do echo "$flags" | grep -qw "$f" || return 1; done; }
candidates=""
has avx2 fma && candidates="$candidates Haswell Zen"
has avx512f avx512bw avx512vl avx512dq avx512cd && candidates="$candidates SkylakeX"
has avx512f avx512bw avx512vl avx512_bf16 && candidates="$candidates Cooperlake"
[ -n "$candidates" ] || { echo "openblas: no kernel family to compare; leaving OpenBLAS's own choice"; exit 0; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
gcc -O2 "$here/../benchmarks/openblas/sgemm_probe.c" -o "$work/probe" $(pkg-config --cflags --libs openblas)
best=""; best_score=0
for core in $candidates; do
  # Score: geometric mean of the probe's GFLOP/s over its shapes.
  score="$(OPENBLAS_CORETYPE=$core "$work/probe" | awk '/GFLOP/ { s += log($(NF-1)); n++ } END { printf "%.2f", exp(s / n) }')"
  echo "openblas: $core $score GFLOP/s (geometric mean)"
  if awk -v a="$score" -v b="$best_score" 'BEGIN { exit !(a > b) }'; then best="$core"; best_score="$score"; fi
done
mkdir -p "$(dirname "$out")"
printf '%s\n# %s\n# measured %s: %s GFLOP/s\n' "$best" "$cpu" "$(date -u +%F)" "$best_score" > "$out.tmp" && mv "$out.tmp" "$out"
echo "openblas: fastest is $best; recorded in $out"
