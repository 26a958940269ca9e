#!/usr/bin/env bash
# Benchmark: `dedupe` (quality filters, near-duplicate grouping, coverage selection, dataset folder) over
#  - ~2,000 real faces: the faces of d6.mp4, d9.mp4 and d10.mp4 (1008 + 587 + 448 frames, one face each) from
#    `detect`, built into one dataset through the CLI (crops read, hashed, copied), then re-run (nothing to do)
#    and audited against d3.mp4's faces;
#  - 2,000 and 100,000 synthetic faces through `dedupe-bench` (the same library calls on made-up signatures:
#    no crop files), poses spread like varied footage (yaw sd 25 degrees) and like one talking head (sd 5).
# Seconds and peak memory (/usr/bin/time -v) of each; best of FACET_BENCH_ROUNDS (default 3) rounds.
# There is no peer: no other tool makes the same decisions (see README.md beside this script).
# Usage: benchmarks/dedupe/run.sh   (after `make setup`; writes RESULTS.md beside this script)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
videos="$repo/../shared/faces/videos"
rounds="${FACET_BENCH_ROUNDS:-3}"
bin="$repo/.build/release"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for tool in detect dedupe dedupe-bench; do
  [ -x "$bin/$tool" ] || { echo "bench: $bin/$tool is missing: run 'swift build -c release' first" >&2; exit 1; }
done
for clip in d6 d9 d10 d3; do [ -f "$videos/$clip.mp4" ] || { echo "bench: $videos/$clip.mp4 is missing" >&2; exit 1; }; done
[ -x /usr/bin/time ] || { sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo; $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time; }

ws="$work/ws"
echo "bench: detecting the faces of d6, d9, d10 and d3 (not timed)"
for clip in d6 d9 d10 d3; do
  "$bin/detect" --workspace "$ws" -q "$videos/$clip.mp4"
done
manifests=("$ws/Manifests/faces-d6.json" "$ws/Manifests/faces-d9.json" "$ws/Manifests/faces-d10.json")

res="$work/results"; mkdir -p "$res"
load_before="$(cut -d' ' -f1 /proc/loadavg)"
# timed NAME ROUND COMMAND...: stdout to NAME__ROUND.json, /usr/bin/time -v to NAME__ROUND.time
timed() {
  local name="$1" round="$2"; shift 2
  if ! /usr/bin/time -v -o "$res/${name}__$round.time" "$@" >"$res/${name}__$round.json" 2>"$res/${name}__$round.err"; then
    echo "bench: $name failed:" >&2; tail -n 20 "$res/${name}__$round.err" >&2; exit 1
  fi
}
for round in $(seq 1 "$rounds"); do
  echo "bench: round $round/$rounds"
  rm -rf "$ws/Datasets/bench" "$ws/catalog.sqlite"*
  # A fresh catalog each round, so every build is a first build.
  timed real2000 "$round" "$bin/dedupe" --workspace "$ws" --identity bench --json -q --force "${manifests[@]}"
  timed real2000-rerun "$round" "$bin/dedupe" --workspace "$ws" --identity bench --json -q --force "${manifests[@]}"
  timed audit "$round" "$bin/dedupe" audit --json -q "$ws/Datasets/bench/dataset.json" --against "$ws/Manifests/faces-d3.json"
  timed synthetic2000 "$round" "$bin/dedupe-bench" --faces 2000
  timed synthetic100000 "$round" "$bin/dedupe-bench" --faces 100000
  timed synthetic100000-talking "$round" "$bin/dedupe-bench" --faces 100000 --pose-spread 5
done

commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || true)"
python3 "$here/bench.py" --results "$res" --rounds "$rounds" --commit "$commit" --load-before "$load_before" --out "$here/RESULTS.md"
cat "$here/RESULTS.md"
