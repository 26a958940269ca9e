#!/usr/bin/env bash
# Benchmark: NN's DeepFakes autoencoder (the original 64x64 architecture) beside Keras 3 on TensorFlow
# CPU (../shared/bench/peer_train_keras.py), training (a step of side A then of side B) and inference,
# batch 64 and 16, all in one run on this machine, with each side's peak RSS.
# Then each model `train` offers (original, lite, df128) at train's default batch of 16: the network step alone
# (train-bench) and the `train` tool end to end (augmentation + both steps) on real faces of d6.mp4 and d9.mp4;
# and for lite the cost of train's --gan-weight and --gan-weight + --cycle-weight against plain training.
# Prints the load average before and after (figures measured on a busy machine are noisy).
# Usage: benchmarks/train/run.sh [iterations]   (after `swift build -c release`)
# Installs its peer on the fly: tensorflow-cpu into a throwaway virtualenv ($FACET_TF_VENV reuses one).
# Prints the figures; benchmarks/train/RESULTS.md records a run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
shared="$repo/../shared"
steps="${1:-5}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

venv="${FACET_TF_VENV:-$work/venv}"
if ! "$venv/bin/python" -c "import tensorflow" 2>/dev/null; then
  echo "bench: installing tensorflow-cpu into a throwaway virtualenv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check tensorflow-cpu
fi
bench="$repo/.build/release/train-bench"
[ -x "$bench" ] || { echo "bench: build it first: swift build -c release --product train-bench" >&2; exit 66; }
# The OpenBLAS kernel family `make setup` measured fastest (train-bench would restart itself with it).
core="$(head -n 1 "${XDG_CACHE_HOME:-$HOME/.cache}/facet/openblas-coretype" 2>/dev/null || true)"
export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-${core:-Haswell}}"

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; OpenBLAS core $OPENBLAS_CORETYPE"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
trap 'echo "load after: $(cut -d" " -f1-3 /proc/loadavg)"; rm -rf "$work"' EXIT
echo "peer: $("$venv/bin/python" -c 'import tensorflow as tf, keras; print("tensorflow", tf.__version__, "keras", keras.__version__)' 2>/dev/null)"
for batch in 64 16; do
  echo "== batch $batch, $steps iterations"
  echo "-- facet NN"
  extra=""; [ "$batch" = 64 ] && extra="--peak"
  /usr/bin/time -f "peak RSS: %M KB" "$bench" --batch "$batch" --steps "$steps" $extra 2>&1
  echo "-- keras / tensorflow-cpu"
  (cd "$work" && /usr/bin/time -f "peak RSS: %M KB" "$venv/bin/python" "$shared/bench/peer_train_keras.py" "$batch" "$steps" 2>&1) \
    | grep -E "^(params|train|infer|peak RSS)"
done

echo "== models at batch 16, network only (train-bench, $steps iterations)"
for model in original lite df128; do
  echo "-- $model"
  "$bench" --model "$model" --batch 16 --steps "$steps" 2>&1 | grep -E "^(model|params|train|infer)"
done

echo "== lite at batch 16: the cost of train's GAN and cycle options, network only (train-bench --adversarial, $steps iterations)"
"$bench" --model lite --batch 16 --steps "$steps" --adversarial 2>&1 | grep -E "^(options|discriminator)"

echo "== train end to end at batch 16 (augmentation, a step of A and of B; load, checkpoint and export not timed)"
bin="$repo/.build/release"
ws="$work/ws"
for clip in d6 d9; do
  "$bin/detect" --workspace "$ws" -q --mask --every 2 "$shared/faces/videos/$clip.mp4"
done
for model in original lite df128; do
  case "$model" in lite) n=300 ;; *) n=12 ;; esac
  "$bin/train" --workspace "$ws" -q --json --model "$model" --iterations "$n" --checkpoint-every 100000 --preview-every 100000 \
    --output "$ws/Models/$model" "$ws/Manifests/faces-d6.json" "$ws/Manifests/faces-d9.json" \
    | python3 -c "import json,sys; r=json.load(sys.stdin); print('$model: %d iterations in %.1f s, %.3f iterations/s, %.1f images/s (faces %s)' % (r['iterations'], r['seconds'], r['iterationsPerSecond'], r['imagesPerSecond'], r['faces']))"
done
# lite with the GAN (no warm-up, so every iteration pays for it) and with the GAN and the cycle loss.
for variant in gan gan-cycle; do
  case "$variant" in gan) flags="--gan-weight 0.1 --gan-warmup 0" ;; *) flags="--gan-weight 0.1 --gan-warmup 0 --cycle-weight 1" ;; esac
  "$bin/train" --workspace "$ws" -q --json --model lite --iterations 100 $flags --checkpoint-every 100000 --preview-every 100000 \
    --output "$ws/Models/lite-$variant" "$ws/Manifests/faces-d6.json" "$ws/Manifests/faces-d9.json" \
    | python3 -c "import json,sys; r=json.load(sys.stdin); print('lite +$variant: %d iterations in %.1f s, %.3f iterations/s, %.1f images/s' % (r['iterations'], r['seconds'], r['iterationsPerSecond'], r['imagesPerSecond']))"
done
