#!/usr/bin/env bash
# A/B benchmark of the layout move (issue 20): the code just before it (0094cbb) against this checkout, on the
# same machine in one run, the two alternating, FACET_BENCH_ROUNDS (default 5) rounds: model-bench (BlazeFace short/full, FaceMesh, ResNet),
# `detect` on d14.mp4 (whole pipeline, wall seconds), train-bench lite and original (batch 16, 5 iterations).
# Usage: benchmarks/layout-move/run.sh [OLD_COMMIT]   (after a release build of this checkout; builds the old
# commit in a throwaway worktree, a few minutes). Prints the rounds and a best-of-rounds table.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
shared="$repo/../shared"
old_commit="${1:-0094cbb}"
old_tree="${FACET_AB_OLD_TREE:-$repo/.build/layout-ab-old}"
if [ ! -x "$old_tree/.build/release/detect" ]; then
  git -C "$repo" worktree add --force "$old_tree" "$old_commit" >/dev/null
  (cd "$old_tree" && swift build -c release >/dev/null)
fi
old="$old_tree/.build/release"; new="$repo/.build/release"
[ -x "$new/detect" ] || { echo "bench: build this checkout first: swift build -c release" >&2; exit 1; }
unset OPENBLAS_CORETYPE   # both sides start with the family make setup recorded
chip="$shared/golden/dlib/chip_5pt.png"; clip="$shared/faces/videos/d14.mp4"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load before: $(cut -d' ' -f1 /proc/loadavg)"
log="$(mktemp)"
rounds="${FACET_BENCH_ROUNDS:-5}"
for r in $(seq "$rounds"); do
  for side in old new; do
    bin=$old; [ $side = new ] && bin=$new
    echo "== round $r $side models" | tee -a "$log"; "$bin/model-bench" --chip "$chip" 2>&1 | grep -E " ms per " | tee -a "$log"
    ws="$(mktemp -d)"; s=$(date +%s.%N); "$bin/detect" --workspace "$ws" -q "$clip" >/dev/null 2>&1; e=$(date +%s.%N); rm -rf "$ws"
    echo "== round $r $side detect d14 wall $(echo "$e - $s" | bc) s" | tee -a "$log"
    for m in lite original; do
      echo "== round $r $side train-bench $m" | tee -a "$log"
      "$bin/train-bench" --model $m --batch 16 --steps 5 2>&1 | grep -E "^(train|infer):" | tee -a "$log"
    done
  done
done
python3 "$here/table.py" "$log"
