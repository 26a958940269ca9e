#!/usr/bin/env bash
# Which OpenBLAS kernel family is fastest on this CPU? Builds sgemm_probe.c against Debian's OpenBLAS and
# runs it once per OPENBLAS_CORETYPE the CPU can execute, plus the family OpenBLAS picks by itself.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
gcc -O2 "$here/sgemm_probe.c" -o "$work/probe" $(pkg-config --cflags --libs openblas)
{
  echo "# OpenBLAS sgemm by kernel family (single thread)"
  echo
  echo "Measured $(date -u +%F) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), OpenBLAS $(pkg-config --modversion openblas)."
  echo "CPU flags: $(grep -o -w -E 'avx2|fma|avx512f|avx512bw|avx512vl|avx512_bf16|amx_tile' /proc/cpuinfo | sort -u | xargs)."
  echo
  echo '```'
  echo "== default (OpenBLAS's own choice)"; "$work/probe"
  for core in Haswell Zen SkylakeX Cooperlake; do echo "== OPENBLAS_CORETYPE=$core"; OPENBLAS_CORETYPE=$core "$work/probe"; done
  echo '```'
} | tee "$here/RESULTS.md"
