#!/usr/bin/env bash
# Benchmark: Facet's `detect` (decode, BlazeFace full range, FaceMesh x2, 5-point, align, PNG write) beside the
# same stages run by Google's LiteRT + OpenCV (+ dlib's 5-point predictor) in peer_detect_litert.py, on a
# 512x512 clip, on the 720x1280 clip d13.mp4, and on the 512x512 clip looped 3x (peak memory vs video length).
# Usage: benchmarks/detect/run.sh   (after `make setup` and a release build of `detect`; writes RESULTS.md
#        beside this script). FACET_BENCH_ROUNDS (default 5) rounds, the tools alternating within each round.
# Installs its peer on the fly: ai-edge-litert, numpy, opencv-python-headless and (if a wheel installs)
# dlib-bin into a throwaway virtualenv.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
shared="$repo/../shared"
models="${FACET_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/facet/models}"
rounds="${FACET_BENCH_ROUNDS:-5}"
clip512="${FACET_BENCH_CLIP512:-$shared/faces/videos/d14.mp4}"   # 512x512, 536 frames, one face in every frame
clip720="${FACET_BENCH_CLIP720:-$shared/faces/videos/d13.mp4}"   # 720x1280, 352 frames
facet="$repo/.build/release/detect"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

[ -x "$facet" ] || { echo "bench: $facet is missing: run 'swift build -c release --product detect' first" >&2; exit 1; }
for f in face_detection_full_range.tflite face_landmark.tflite shape_predictor_5_face_landmarks.dat; do
  [ -f "$models/$f" ] || { echo "bench: $models/$f is missing: run 'make setup' first" >&2; exit 1; }
done
for f in "$clip512" "$clip720"; do [ -f "$f" ] || { echo "bench: clip $f is missing" >&2; exit 1; }; done

sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
need=""
[ -x /usr/bin/time ] || need="$need time"
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need="$need ffmpeg"
if [ -n "$need" ]; then $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need; fi

echo "bench: installing LiteRT, OpenCV and dlib's wheel into a throwaway virtualenv"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check ai-edge-litert numpy opencv-python-headless
# dlib's 5-point predictor for the peer's points5 stage: a prebuilt wheel only (never a source build); without it
# the peer reports points5 as not run.
"$work/venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: dlib-bin \
  || echo "bench: no dlib-bin wheel for this machine; the peer's points5 stage will show as not run"

# The 512x512 clip looped 3 times (video stream copied, not re-encoded) for the memory comparison.
ffmpeg -v error -y -stream_loop 2 -i "$clip512" -map 0:v:0 -c copy "$work/clip512x3.mp4"

res="$work/results"; mkdir -p "$res"
load_before="$(cut -d' ' -f1 /proc/loadavg)"
echo "bench: load average before the runs: $load_before (other work on the machine skews every figure)"
# run TOOL CLIPKEY ROUND VIDEO: one timed run, its stdout to TOOL__CLIPKEY__ROUND.json, time -v to .time
run() {
  local tool="$1" key="$2" round="$3" video="$4" out="$res/$1__$2__$3" ws status=0
  if [ "$tool" = facet ] || [ "$tool" = facet1 ]; then
    # facet1: one analyzer, one frame at a time with each network across both cores (the peer's own way).
    local extra=(); [ "$tool" = facet1 ] && extra=(--analyzers 1)
    ws="$(mktemp -d "$work/ws.XXXXXX")"
    /usr/bin/time -v -o "$out.time" "$facet" --workspace "$ws" --catalog "$ws/catalog.sqlite" --json -q \
      --models "$models" "${extra[@]}" "$video" >"$out.json" 2>"$out.err" || status=$?
    rm -rf "$ws"
  else
    /usr/bin/time -v -o "$out.time" "$work/venv/bin/python" "$here/peer_detect_litert.py" "$models" "$video" \
      >"$out.json" 2>"$out.err" || status=$?
  fi
  if [ "$status" != 0 ]; then
    echo "bench: $tool failed on $video (exit $status):" >&2; tail -n 20 "$out.err" >&2; exit 1
  fi
}

for round in $(seq 1 "$rounds"); do
  for key in clip512 clip720 clip512x3; do
    case "$key" in
      clip512) video="$clip512" ;; clip720) video="$clip720" ;; clip512x3) video="$work/clip512x3.mp4" ;;
    esac
    echo "bench: round $round/$rounds, $(basename "$video")"
    run facet "$key" "$round" "$video"
    [ "$key" = clip512x3 ] || run facet1 "$key" "$round" "$video"
    run peer "$key" "$round" "$video"
  done
done

commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || true)"
python3 "$here/bench.py" --results "$res" --clip clip512 "$clip512" --clip clip720 "$clip720" \
  --clip clip512x3 "$work/clip512x3.mp4" --loop-of clip512x3 clip512 --facet-commit "$commit" --load-before "$load_before" --out "$here/RESULTS.md"
