#!/usr/bin/env bash
# Trial: does train's GAN (--gan-weight) or GAN + cycle loss (--cycle-weight) make better swaps than plain
# training for the same wall-clock budget? Issue 19's protocol, end to end:
#   1. data: d6.mp4 (A, a woman) is cut in two: the first 75% trains, the last 25% is the held-out clip that is
#      swapped and scored (no other clip of her exists in the samples); d9.mp4 (B, a man with glasses) whole.
#      `detect --mask` on every frame of both training parts (as the 20-minute acceptance run), `dedupe` each into a
#      dataset;
#      d6 and d9 enrolled from every 25th frame of their training parts (`identify enroll`).
#   2. train `lite` three ways for the same budget of training minutes each (plain, --gan-weight W,
#      --gan-weight W --cycle-weight C; defaults otherwise, seed 0). Runs resume: call the script again with
#      the same WORK folder and a larger budget to continue them (each variant tops up to the budget).
#   3. swap the held-out clip (target d6, a-to-b: A's faces drawn by decoder B) with each model, `score run`
#      each swap, and measure sharpness: the held-out A faces through decoder B (a preview made by
#      `train --init-from MODEL --iterations 0`) against B's real faces, variance of the Laplacian of the luma,
#      mean over faces, as a ratio (1: as sharp as real B faces).
#   4. print the table (and write WORK/trial.md): iterations, seconds per iteration, ID retrieval, identity
#      distance to B, pose and expression error, flicker ratio, sharpness ratio, D and G losses at the end;
#      WORK/previews.png puts the three held-out previews side by side (plain | GAN | GAN + cycle).
# Usage: benchmarks/train/gan_trial.sh MINUTES [WORK] [GAN_WEIGHT] [CYCLE_WEIGHT] [GAN_WARMUP]
#        (after `make setup`: release build and models). Defaults: WORK /tmp/facet-gan-trial, W 0.1, C 1,
#        warm-up 1000. Run it on a quiet machine: the variants share the budget in wall-clock minutes, so other load
#        changes what each one gets. Installs numpy and pillow into WORK/venv (PyPI) for the sharpness measure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
bin="$repo/.build/release"
shared="$repo/../shared/faces/videos"
minutes="${1:?usage: gan_trial.sh MINUTES [WORK] [GAN_WEIGHT] [CYCLE_WEIGHT] [GAN_WARMUP]}"
work="${2:-/tmp/facet-gan-trial}"
gan="${3:-0.1}"; cycle="${4:-1}"; warmup="${5:-1000}"
mkdir -p "$work"
ws="$work/ws"
for t in detect dedupe identify train swap score; do
  [ -x "$bin/$t" ] || { echo "trial: $bin/$t is missing: run 'swift build -c release' first" >&2; exit 1; }
done
if ! "$work/venv/bin/python" -c "import numpy, PIL" 2>/dev/null; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install --quiet --disable-pip-version-check numpy pillow
fi
echo "trial: machine $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. Data (each step skipped when its output exists).
if [ ! -f "$work/d6-heldout.mp4" ]; then
  duration="$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$shared/d6.mp4")"
  cut="$(python3 -c "print(round($duration * 0.75, 3))")"
  ffmpeg -v error -y -i "$shared/d6.mp4" -t "$cut" -map 0 -c:v libx264 -crf 12 -preset veryfast -pix_fmt yuv420p -c:a copy "$work/d6-train.mp4"
  ffmpeg -v error -y -ss "$cut" -i "$shared/d6.mp4" -map 0 -c:v libx264 -crf 12 -preset veryfast -pix_fmt yuv420p -c:a copy "$work/d6-heldout.tmp.mp4"
  mv "$work/d6-heldout.tmp.mp4" "$work/d6-heldout.mp4"
fi
declare -A clips=([d6-train]="$work/d6-train.mp4" [d9]="$shared/d9.mp4")
for clip in d6-train d9; do
  [ -f "$ws/Manifests/faces-$clip.json" ] || "$bin/detect" --workspace "$ws" -q --mask "${clips[$clip]}"
  # --force: a talking-head clip can dedupe below dedupe's 100-face floor; the trial still wants the pair.
  [ -f "$ws/Datasets/$clip/dataset.json" ] || "$bin/dedupe" --workspace "$ws" -q --identity "$clip" --force "$ws/Manifests/faces-$clip.json"
  [ -f "$ws/Manifests/enrol-$clip.json" ] || "$bin/detect" --workspace "$ws" -q --every 25 --output "$ws/Manifests/enrol-$clip.json" "${clips[$clip]}"
done
[ -f "$ws/Manifests/faces-d6-heldout.json" ] || "$bin/detect" --workspace "$ws" -q --mask --every 5 "$work/d6-heldout.mp4"
if [ ! -f "$work/enrolled" ]; then
  "$bin/identify" enroll --workspace "$ws" -q --name d6 --consent "Facet sample clip; GAN trial only" "$ws/Manifests/enrol-d6-train.json"
  "$bin/identify" enroll --workspace "$ws" -q --name d9 --consent "Facet sample clip; GAN trial only" "$ws/Manifests/enrol-d9.json"
  touch "$work/enrolled"
fi
A="$ws/Datasets/d6-train/dataset.json"; B="$ws/Datasets/d9/dataset.json"

# 2. Train each variant up to the budget (resuming when a checkpoint exists).
declare -A flags=([plain]="" [gan]="--gan-weight $gan --gan-warmup $warmup" [gan-cycle]="--gan-weight $gan --gan-warmup $warmup --cycle-weight $cycle")
variants=(plain gan gan-cycle)
for v in "${variants[@]}"; do
  out="$ws/Models/$v"
  done_s=0
  [ -f "$out/model.json" ] && done_s="$(python3 -c "import json; print(json.load(open('$out/model.json'))['training']['seconds'])")"
  left="$(python3 -c "print(max(0.0, $minutes - $done_s / 60))")"
  if python3 -c "import sys; sys.exit(0 if $left > 0.05 else 1)"; then
    echo "trial: training $v for $left more minutes (load $(cut -d' ' -f1-3 /proc/loadavg))"
    if [ -f "$out/checkpoint.safetensors" ]; then
      "$bin/train" --workspace "$ws" -q --resume --output "$out" --minutes "$left" --preview-faces 8
    else
      # shellcheck disable=SC2086
      "$bin/train" --workspace "$ws" -q --model lite --minutes "$left" --preview-faces 8 ${flags[$v]} --output "$out" "$A" "$B"
    fi
  fi
done

# 3. Swap the held-out clip, score it, and render the held-out faces through decoder B.
for v in "${variants[@]}"; do
  model="$ws/Models/$v/model.json"
  if [ ! -f "$work/swap-$v.json" ] || [ "$model" -nt "$work/swap-$v.json" ]; then
    "$bin/swap" --workspace "$ws" -q --model "$model" --target d6 --direction a-to-b -o "$work/heldout-$v.mp4" \
      --manifest "$work/swap-$v.json" "$work/d6-heldout.mp4"
  fi
  "$bin/score" run --workspace "$ws" -q --json --output "$ws/Scores/$v" "$work/swap-$v.json" > "$work/score-$v.json"
  rm -rf "$work/probe-$v"
  "$bin/train" --workspace "$ws" -q --init-from "$model" --iterations 0 --preview-faces 12 --output "$work/probe-$v" \
    "$ws/Manifests/faces-d6-heldout.json" "$B"
done
ffmpeg -v error -y -i "$work/probe-plain/preview.png" -i "$work/probe-gan/preview.png" -i "$work/probe-gan-cycle/preview.png" \
  -filter_complex "[0][1][2]hstack=inputs=3" "$work/previews.png"

# 4. The table.
"$work/venv/bin/python" - "$work" "$ws" "$minutes" "$gan" "$cycle" "$warmup" <<'PY'
import csv, json, sys
import numpy as np
from PIL import Image
work, ws, minutes, gan, cycle, warmup = sys.argv[1:7]
variants = [("plain", "plain"), ("gan", f"--gan-weight {gan}"), ("gan-cycle", f"--gan-weight {gan} --cycle-weight {cycle}")]

def sharpness(preview):
    """Mean variance of the Laplacian (luma, 4-neighbour) of the A->B tiles (row 3) over that of the real B tiles (row 4)."""
    img = np.asarray(Image.open(preview).convert("RGB"), dtype=np.float64)
    luma = img @ np.array([0.299, 0.587, 0.114])
    tile, gap = 64, 2
    cols = (img.shape[1] - gap) // (tile + gap)
    def row(r):
        out = []
        for c in range(cols):
            y, x = gap + r * (tile + gap), gap + c * (tile + gap)
            t = luma[y:y + tile, x:x + tile]
            lap = t[1:-1, :-2] + t[1:-1, 2:] + t[:-2, 1:-1] + t[2:, 1:-1] - 4 * t[1:-1, 1:-1]
            out.append(lap.var())
        return np.mean(out)
    return row(2) / row(3)

def last_losses(folder):
    rows = list(csv.DictReader(open(f"{folder}/loss.csv")))[-10:]
    def mean(k):
        vals = [float(r[k]) for r in rows if r.get(k)]
        return f"{np.mean(vals):.3f}" if vals else "-"
    return mean("loss_a"), mean("loss_b"), mean("d_loss_a") + " / " + mean("d_loss_b"), mean("g_loss_a") + " / " + mean("g_loss_b")

lines = [f"Trial: lite, {minutes} training minutes per variant (GAN warm-up {warmup}); held-out last 25% of d6.mp4 swapped a-to-b (decoder B = d9).",
         "",
         "| variant | options | iterations | s/iteration | ID retrieval | identity distance to B | pose error (deg) | expression error | flicker ratio | sharpness vs real B | final loss A / B | D loss A / B | G loss A / B |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|"]
for v, options in variants:
    model = json.load(open(f"{ws}/Models/{v}/model.json"))
    t = model["training"]
    doc = json.load(open(f"{work}/score-{v}.json"))["documents"][0]
    a = doc["aggregates"]
    def m(k, f="{:.3f}"):
        return f.format(a[k]["mean"]) if k in a and a[k].get("mean") is not None else "-"
    la, lb, d, g = last_losses(f"{ws}/Models/{v}")
    lines.append(f"| {v} | `{options}` | {t['iterations']} | {t['seconds'] / max(t['iterations'], 1):.3f} | {m('id_retrieval')} | "
                 f"{m('id_distance_decoder')} | {m('pose_error', '{:.2f}')} | {m('expression_error')} | {m('flicker_ratio')} | "
                 f"{sharpness(f'{work}/probe-{v}/preview.png'):.3f} | {la} / {lb} | {d} | {g} |")
lines += ["", f"Previews of the held-out faces (rows A, A->A, A->B, B, B->B, B->A), plain | GAN | GAN + cycle: {work}/previews.png"]
open(f"{work}/trial.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "trial: load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
