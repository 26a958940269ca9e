#!/usr/bin/env bash
# SHA-256 over a 1 GB file and over many crop-sized buffers: Facet's hand-written implementation against
# swift-crypto (BoringSSL), with coreutils' sha256sum and OpenSSL as peers on the same file in the same run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
scratch="${SHA256_BENCH_SCRATCH:-/tmp/facet-sha256-bench}"
file="${SHA256_BENCH_FILE:-/tmp/facet-sha256-1GB.bin}"
[ -f "$file" ] && [ "$(stat -c %s "$file")" = 1000000000 ] || head -c 1000000000 /dev/urandom > "$file"
swift build -c release --package-path "$here" --scratch-path "$scratch" >&2
echo "machine: $(lscpu | grep 'Model name' | sed 's/  */ /g'), $(nproc) cores, sha_ni: $(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$file" > /dev/null   # warm the page cache so every contender reads from memory
"$scratch/release/sha256-bench" "$file" "${SHA256_BENCH_CROPS:-5000}" "${SHA256_BENCH_CROP_BYTES:-40000}"
for peer in "sha256sum" "openssl dgst -sha256"; do
  command -v ${peer%% *} > /dev/null || continue
  start=$(date +%s.%N); $peer "$file" > /dev/null; end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" -v n="$peer" 'BEGIN { printf "file   %-20s %7.3f s  %8.1f MB/s  (peer, one run)\n", n, e - s, 1000 / (e - s) }'
done
