#!/usr/bin/env bash
# Robustness, false positives and speed of Facet's provenance watermark, beside PyPI invisible-watermark
# (DWT-DCT) embedding and detecting the same 32-bit payload frame by frame, in the same run.
#
# Clips: the first SECONDS (6) of every video under ../shared/faces/videos, cut at CRF 12 as stand-ins for swap
# outputs; each marked by Facet (watermark-bench mark: Media's VideoWriter, H.264 CRF 18) and by the peer
# (peer.py: ffmpeg CLI, H.264 CRF 18). Every attack row is applied with the ffmpeg CLI to both.
# False positives: every video and image under ../shared/faces, plus re-encoded variants, same settings.
# Writes $WORK/results.json and prints the Markdown tables of RESULTS.md. Needs ffmpeg and python3-venv.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
SHARED=${SHARED:-$REPO/../shared/faces}
WORK=${WORK:-/tmp/facet-watermark-bench}
VENV=${VENV:-/tmp/facet-watermark-venv}
SECONDS_PER_CLIP=${SECONDS_PER_CLIP:-6}
PAYLOAD=5eed1e55
JOBS=${JOBS:-2}
# CLIPS: names (without .mp4) of the videos to use, default all; REUSE=1 keeps $WORK and skips clips already cut
# and marked (to finish or shrink a run on a busy machine).
CLIPS=${CLIPS:-$(ls "$SHARED"/videos/*.mp4 | xargs -n1 basename | sed 's/\.mp4$//')}
REUSE=${REUSE:-0}

swift build -c release --product watermark-bench >&2
B=$REPO/.build/release/watermark-bench
if [ ! -x "$VENV/bin/python" ]; then
  # --no-deps: the package also asks for torch and onnxruntime, which only its RivaGAN method needs.
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --no-deps invisible-watermark &&
    "$VENV/bin/pip" install -q PyWavelets opencv-python-headless numpy Pillow >&2
fi
PY=$VENV/bin/python
PEER=$REPO/benchmarks/watermark/peer.py
[ "$REUSE" = 1 ] || rm -rf "$WORK"
rm -rf "$WORK"/attacked "$WORK"/fp; mkdir -p "$WORK"/{src,facet,peer,attacked/facet,attacked/peer,fp,logs}
ff() { ffmpeg -v error -nostdin -y "$@"; }
export -f ff

echo "cutting clips" >&2
for n in $CLIPS; do
  v=$SHARED/videos/$n.mp4
  [ -s "$WORK/src/$n.mp4" ] && continue
  ff -i "$v" -t "$SECONDS_PER_CLIP" -vf "scale=trunc(iw/2)*2:trunc(ih/2)*2" -c:v libx264 -crf 12 -an "$WORK/src/$n.mp4"
done

echo "marking (Facet, peer)" >&2
for n in $CLIPS; do s=$WORK/src/$n.mp4
  [ -s "$WORK/facet/$n.mp4" ] && [ -s "$WORK/peer/$n.mp4" ] && continue
  "$B" mark --payload $PAYLOAD "$s" "$WORK/facet/$n.mp4" >> "$WORK/logs/facet-mark.jsonl"
  "$PY" "$PEER" mark "$s" "$WORK/peer/$n.mp4" $PAYLOAD >> "$WORK/logs/peer-mark.jsonl"
done

# attack METHOD CLIP: writes attacked/METHOD/ROW__CLIP[__k].{mp4,jpg}
attack() {
  m=$1; f=$2; n=$(basename "$f" .mp4); o=$WORK/attacked/$m
  half="scale=trunc(iw/4)*2:trunc(ih/4)*2"
  cp "$f" "$o/none__$n.mp4"
  ff -i "$f" -c:v libx264 -crf 23 "$o/crf23__$n.mp4"
  ff -i "$f" -c:v libx264 -crf 28 "$o/crf28__$n.mp4"
  ff -i "$f" -vf "$half" -c:v libx264 -crf 18 "$o/half__$n.mp4"
  ff -i "$f" -vf "scale=-2:360" -c:v libx264 -crf 18 "$o/h360__$n.mp4"
  ff -i "$f" -vf "crop=trunc(iw*0.4)*2:trunc(ih*0.4)*2" -c:v libx264 -crf 18 "$o/crop10__$n.mp4"
  ff -i "$f" -vf "fps=25" -c:v libx264 -crf 18 "$o/fps25__$n.mp4"
  ff -ss 1 -i "$f" -t 2 -c:v libx264 -crf 18 "$o/excerpt2s__$n.mp4"
  # The goal row: every whole 2-s excerpt starting on a whole second (5 per 6-s clip; 1 of a 2.6-s clip), half
  # size, CRF 28.
  last=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$f" | awk '{k = int($1 - 2 + 0.001); print (k < 0 ? 0 : k)}')
  for k in $(seq 0 "$last"); do
    ff -ss "$k" -i "$f" -t 2 -vf "$half" -c:v libx264 -crf 28 "$o/goal__${n}__$k.mp4"
  done
  for k in 0 1 2; do ff -ss "$k.5" -i "$f" -frames:v 1 "$o/png__${n}__$k.png"; done
  ff -i "$f" -vf "eq=brightness=0.1" -c:v libx264 -crf 18 "$o/brightness__${n}__up.mp4"
  ff -i "$f" -vf "eq=brightness=-0.1" -c:v libx264 -crf 18 "$o/brightness__${n}__down.mp4"
  ff -i "$f" -vf "eq=contrast=1.1" -c:v libx264 -crf 18 "$o/contrast__${n}__up.mp4"
  ff -i "$f" -vf "eq=contrast=0.9" -c:v libx264 -crf 18 "$o/contrast__${n}__down.mp4"
  ff -i "$f" -vf "hflip" -c:v libx264 -crf 18 "$o/hflip__$n.mp4"
}
export -f attack; export WORK SECONDS_PER_CLIP
# The embedder beside its scalar reference twin on the same frames (640x360 and 720x1280), same bytes checked.
for v in "$SHARED"/videos/two_people_stage.mp4 "$SHARED"/videos/d13.mp4; do
  [ -s "$v" ] && "$B" embed-speed --frames 120 --rounds 5 "$v"
done > "$WORK/logs/embed-speed.jsonl"

echo "attacking" >&2
for n in $CLIPS; do echo "$WORK/facet/$n.mp4"; done | xargs -P "$JOBS" -I{} bash -c 'attack facet {}'
for n in $CLIPS; do echo "$WORK/peer/$n.mp4"; done | xargs -P "$JOBS" -I{} bash -c 'attack peer {}'
# Single frames as JPEG quality 75 (libjpeg through OpenCV, the quality scale people mean).
"$PY" - "$WORK/attacked" <<'PYEOF'
import cv2, glob, os, sys
for p in glob.glob(os.path.join(sys.argv[1], "*", "png__*.png")):
    cv2.imwrite(p.replace("png__", "jpeg75__")[:-4] + ".jpg", cv2.imread(p), [cv2.IMWRITE_JPEG_QUALITY, 75]); os.remove(p)
PYEOF

# parallel LOG COMMAND...: runs COMMAND over the file names on stdin, $JOBS at a time, each batch into its own
# part file (parallel writers to one file can interleave long lines), then joins the parts into LOG.
parallel() {
  log=$1; shift; PARTS=$log.parts; export PARTS; mkdir -p "$PARTS"
  xargs -P "$JOBS" -n 8 sh -c '"$@" > "$(mktemp -p "$PARTS" part.XXXXXX)"' sh "$@"
  cat "$log.parts"/part.* > "$log"; rm -rf "$log.parts"
}
echo "detecting" >&2
ls "$WORK"/attacked/facet/* | parallel "$WORK/logs/facet-detect.jsonl" "$B" detect
ls "$WORK"/attacked/peer/* | parallel "$WORK/logs/peer-detect.jsonl" "$PY" "$PEER" detect $PAYLOAD

echo "false positives" >&2
for v in "$SHARED"/videos/*.mp4; do n=$(basename "$v" .mp4)
  ff -i "$v" -vf "scale=trunc(iw/4)*2:trunc(ih/4)*2" -c:v libx264 -crf 28 -an "$WORK/fp/${n}-half-crf28.mp4"
  ff -i "$v" -c:v libx264 -crf 23 -an "$WORK/fp/${n}-crf23.mp4"
done
find "$SHARED"/images "$SHARED"/identities -name '*.jpg' | head -200 | while read -r i; do
  ff -i "$i" -q:v 6 "$WORK/fp/$(basename "$(dirname "$i")")-$(basename "$i" .jpg)-requant.jpg"
done
{ find "$SHARED" -type f \( -name '*.mp4' -o -name '*.jpg' -o -name '*.png' \); find "$WORK/fp" -type f; } \
  | parallel "$WORK/logs/fp-detect.jsonl" "$B" detect

python3 "$REPO/benchmarks/watermark/tables.py" "$WORK" $PAYLOAD
