#!/bin/sh
# `make fuzz`: builds facet-fuzz (Sources/Fuzz/facet-fuzz) with libFuzzer and AddressSanitizer and runs each
# target for $FUZZ_SECONDS seconds (default 1800), one after the other on one core.
#   FUZZ_TARGETS="image video"   only these targets (default: all six)
#   FUZZ_SECONDS=120             per target
# Seeds: the committed Fuzz/corpus/<target>/ plus seeds made here from the installed models
# (~/.cache/facet/models, never committed) and the sample clips. New inputs libFuzzer finds go to
# .build/fuzz/corpus/<target>/; a crash, leak, timeout or out-of-memory input is written to
# Fuzz/crashes/<target>-*, and the script exits 1. Summary: .build/fuzz/summary.txt (executions per target).
set -eu
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-1800}
TARGETS=${FUZZ_TARGETS:-"tflite dlib safetensors manifests image video"}
MODELS=${FACET_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/facet/models}
OUT=.build/fuzz

swift build --build-path "$OUT" --product facet-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -use-ld=lld
BIN="$OUT/debug/facet-fuzz"

# Seeds that are not committed: model files (their weights are not ours to commit) and short clips.
seeds="$OUT/seeds"
mkdir -p "$seeds/tflite" "$seeds/dlib" "$seeds/video" Fuzz/crashes
[ -f "$MODELS/face_detection_short_range.tflite" ] && cp "$MODELS/face_detection_short_range.tflite" "$seeds/tflite/"
[ -f "$MODELS/face_landmark.tflite" ] && cp "$MODELS/face_landmark.tflite" "$seeds/tflite/"
[ -f "$MODELS/shape_predictor_5_face_landmarks.dat" ] && head -c 65536 "$MODELS/shape_predictor_5_face_landmarks.dat" > "$seeds/dlib/shape_predictor_5.head"
[ -f "$MODELS/dlib_face_recognition_resnet_model_v1.dat" ] && head -c 65536 "$MODELS/dlib_face_recognition_resnet_model_v1.dat" > "$seeds/dlib/resnet.head"
if [ ! -f "$seeds/video/d18-96.ts" ]; then
  ffmpeg -v error -y -i Datasets/samples/d18.mp4 -t 0.4 -vf scale=96:96 -an -c:v libx264 -preset ultrafast "$seeds/video/d18-96.mp4"
  ffmpeg -v error -y -i "$seeds/video/d18-96.mp4" -c copy -f mpegts "$seeds/video/d18-96.ts"
fi

: > "$OUT/summary.txt"
status=0
for target in $TARGETS; do
  case $target in
    tflite) maxlen=400000 ;; dlib) maxlen=70000 ;; video) maxlen=60000 ;; image) maxlen=40000 ;; *) maxlen=16384 ;;
  esac
  mkdir -p "$OUT/corpus/$target" "Fuzz/corpus/$target" "$seeds/$target"
  log="$OUT/$target.log"
  echo "fuzz: $target for $SECONDS_EACH s (log $log)"
  if ! FACET_FUZZ_TARGET=$target SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
      "$BIN" -max_total_time="$SECONDS_EACH" -timeout=30 -rss_limit_mb=3072 -max_len=$maxlen -print_final_stats=1 \
      -artifact_prefix="Fuzz/crashes/$target-" "$OUT/corpus/$target" "Fuzz/corpus/$target" "$seeds/$target" > "$log" 2>&1; then
    status=1
    echo "fuzz: $target FOUND A PROBLEM; see $log and Fuzz/crashes/"
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  echo "$target: $runs executions in $SECONDS_EACH s, exit $status" | tee -a "$OUT/summary.txt"
done
exit $status
