#!/usr/bin/env bash
# Benchmark: Facet's `swap` beside two peers, in one run, on two_people_stage.mp4 (640x360, 29.97 frames/s,
# Lin-Manuel Miranda as the target) and on the same clip scaled to 1280x720 (lanczos, every frame kept; made here with ffmpeg):
#   - facet swap        end to end: decode, detection (BlazeFace, FaceMesh x2, 5 points), tracking, descriptors
#                       (dlib ResNet, with an empty descriptor cache), identification, swap, H.264 encode, join;
#   - facet swap faces  (lite) the same swap given the faces manifest `identify label --target` wrote (no detection or
#                       identification: what a converter given an alignments file does);
#   - ffmpeg            the physical floor: FFmpeg's own decode + libx264 encode, swap's settings (crf 18, preset
#                       veryfast, yuv420p), audio copied;
#   - peer              peer_convert_faceswap.py: faceswap's way of converting (alignments file exported from
#                       facet's swap manifest by export_alignments.py, the same weights in Keras/TensorFlow CPU,
#                       OpenCV warps, blurred mask, full-frame blend, ffmpeg pipes);
# for two models trained here for a few iterations (speed does not depend on training): `lite` and `original`.
# Each run is timed by /usr/bin/time -v (wall clock, peak RSS); the convert stage alone comes from swap's
# `--json` `stages` and from the peer's own per-stage timers. ROUNDS rounds (default 3), every system once per
# round, interleaved; summarize.py prints medians.
# Usage: benchmarks/swap/run.sh [rounds]   (after `make setup`: release build, models). Installs its peer on the
# fly (tensorflow-cpu, opencv-python-headless, safetensors, numpy) into a throwaway virtualenv; $FACET_TF_VENV
# reuses one. $FACET_SWAPBENCH_KEEP=DIR keeps the prepared workspace and the raw results there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
rounds="${1:-3}"
bin="$repo/.build/release"
clip="$repo/Datasets/samples/two_people_stage.mp4"
other="$repo/Datasets/samples/d18.mp4"
portrait="$repo/Datasets/samples/lin-manuel-miranda.jpg"
target="Lin-Manuel Miranda"
if [ -n "${FACET_SWAPBENCH_KEEP:-}" ]; then work="$FACET_SWAPBENCH_KEEP"; mkdir -p "$work"; else
  work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT; fi
for t in swap detect identify train; do
  [ -x "$bin/$t" ] || { echo "bench: $bin/$t is missing: run 'swift build -c release' first" >&2; exit 1; }
done
command -v ffmpeg >/dev/null && [ -x /usr/bin/time ] || { echo "bench: needs ffmpeg and /usr/bin/time (make setup; apt-get install time)" >&2; exit 1; }

venv="${FACET_TF_VENV:-$work/venv}"
if ! "$venv/bin/python" -c "import tensorflow, cv2, safetensors" 2>/dev/null; then
  echo "bench: installing tensorflow-cpu, opencv-python-headless, safetensors into a throwaway virtualenv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check tensorflow-cpu opencv-python-headless safetensors numpy
fi

# --- Preparation (not timed) -------------------------------------------------------------------------------
ws="$work/ws"
clips=(360p 720p)
declare -A video=([360p]="$clip" [720p]="$work/two_people_stage_720p.mp4")
if [ ! -f "${video[720p]}" ]; then
  echo "bench: making the 720p clip (two_people_stage.mp4 scaled to 1280x720, lanczos, crf 12; audio copied)"
  ffmpeg -v error -y -i "$clip" -map 0 -fps_mode passthrough -vf scale=1280:720:flags=lanczos -c:v libx264 -crf 12 -preset veryfast -pix_fmt yuv420p \
    -c:a copy "${video[720p]}.tmp.mp4" && mv "${video[720p]}.tmp.mp4" "${video[720p]}"
fi
# Each step is skipped when its output is there (a kept workspace, $FACET_SWAPBENCH_KEEP).
echo "bench: preparing: detect, enrol $target, label, train lite and original for a few iterations"
for v in "$clip" "$other" "${video[720p]}"; do
  n="$(basename "$v" .mp4)"
  [ -f "$ws/Manifests/faces-$n.json" ] || "$bin/detect" --workspace "$ws" -q --mask "$v"
done
if [ ! -f "$ws/catalog.sqlite.enrolled" ]; then
  "$bin/identify" enroll --workspace "$work/enrol" -q --name "$target" --consent "public White House footage; benchmark only" "$portrait"
  cp "$work/enrol/catalog.sqlite" "$ws/catalog.sqlite.enrolled"
  "$bin/identify" enroll --workspace "$ws" -q --name "$target" --consent "public White House footage; benchmark only" "$portrait"
fi
for n in two_people_stage two_people_stage_720p; do
  [ -f "$ws/Manifests/faces-$n-Lin-Manuel_Miranda.json" ] || \
    "$bin/identify" label --workspace "$ws" -q --target "$target" "$ws/Manifests/faces-$n.json"
done
for model in lite original; do
  [ -f "$ws/Models/$model/model.json" ] || \
    "$bin/train" --workspace "$ws" -q --model "$model" --iterations 3 --batch-size 8 --checkpoint-every 100000 --preview-every 100000 \
      --output "$ws/Models/$model" "$ws/Manifests/faces-two_people_stage-Lin-Manuel_Miranda.json" "$ws/Manifests/faces-d18.json"
done
declare -A faces=([360p]="$ws/Manifests/faces-two_people_stage-Lin-Manuel_Miranda.json"
                  [720p]="$ws/Manifests/faces-two_people_stage_720p-Lin-Manuel_Miranda.json")

res="$work/results"; rm -rf "$res"; mkdir -p "$res"
# run NAME CLIP ROUND CMD...: one timed run in a fresh swap workspace (a copy of the catalog holding only the
# enrolled identity, so no descriptor is cached), stdout to NAME__CLIP__ROUND.out, time -v to .time.
run() {
  local name="$1" key="$2" round="$3"; shift 3
  local out="$res/${name}__${key}__${round}"
  rm -rf "$work/run"; mkdir -p "$work/run"; cp "$ws/catalog.sqlite.enrolled" "$work/run/catalog.sqlite"
  if ! /usr/bin/time -v -o "$out.time" "$@" >"$out.out" 2>"$out.err"; then
    echo "bench: $name on $key failed:" >&2; tail -5 "$out.err" >&2; exit 1
  fi
  printf "  %-22s %-5s round %s: %s\n" "$name" "$key" "$round" \
    "$(python3 "$here/summarize.py" --wall "$out.time")"
}
swap_args=(--workspace "$work/run" -q --json --target "$target" --direction a-to-b)

# Warm-up (not timed): the file cache, and the swap manifests the peer's alignments files come from.
echo "bench: warm-up runs (untimed); alignments files for the peer"
for key in "${clips[@]}"; do
  run warmup "$key" 0 "$bin/swap" "${swap_args[@]}" --model "$ws/Models/lite/model.json" -o "$work/run/out.mp4" \
    --manifest "$work/run/swap.json" "${video[$key]}"
  python3 "$here/export_alignments.py" "$work/run/swap.json" "$work/alignments-$key.json"
done
python3 - "$ws/Models/lite/model.json" "$ws/Models/original/model.json" <<'EOF'
import json, sys
a, b = (json.load(open(p))["alignment"] for p in sys.argv[1:])
assert a == b, "lite and original are framed differently: %s vs %s" % (a, b)
EOF

machine="$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
echo "machine: $machine; load average before the timed runs: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$rounds"); do
  echo "== round $round"
  for key in "${clips[@]}"; do
    v="${video[$key]}"
    run ffmpeg "$key" "$round" ffmpeg -v error -y -i "$v" -map 0:v:0 -map '0:a?' -fps_mode passthrough -c:v libx264 -crf 18 -preset veryfast \
      -pix_fmt yuv420p -c:a copy "$work/run/out.mp4"
    for model in lite original; do
      m="$ws/Models/$model/model.json"
      run "swap-$model" "$key" "$round" "$bin/swap" "${swap_args[@]}" --model "$m" -o "$work/run/out.mp4" "$v"
      [ "$model" = lite ] && run "swap-faces-$model" "$key" "$round" "$bin/swap" "${swap_args[@]}" --model "$m" -o "$work/run/out.mp4" \
        "${faces[$key]}"
      run "peer-$model" "$key" "$round" "$venv/bin/python" "$here/peer_convert_faceswap.py" "$m" "$work/alignments-$key.json" "$v" \
        "$work/run/out.mp4" --decoder B --crf 18 --preset veryfast
    done
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
peer="$("$venv/bin/python" -c 'import tensorflow as tf, keras, cv2; print("tensorflow", tf.__version__, "keras", keras.__version__, "opencv", cv2.__version__)' 2>/dev/null)"
python3 "$here/summarize.py" --machine "$machine" --peer "$peer" "$res"
