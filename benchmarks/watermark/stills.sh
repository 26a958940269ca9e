#!/usr/bin/env bash
# Stills: the watermark on single images, nominal (the video embedder on one frame) against informed
# (`StillWatermark`, what `swap` writes for an image output). Every photo of ../shared/faces/identities and
# ../shared/faces/images, and five frames of every video under ../shared/faces/videos, each marked both ways, checked as it is, after JPEG q90 and q75 re-encodes and after a
# half-size downscale (saved at q90), with the same detector settings as `score provenance`.
# Writes $WORK/stills.jsonl (one line per image, then a summary line) and prints the tables of STILLS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARED=${SHARED:-$PWD/../shared/faces}
WORK=${WORK:-/tmp/facet-watermark-stills}
swift build -c release --product watermark-bench >&2
rm -rf "$WORK"; mkdir -p "$WORK/images"
for d in "$SHARED"/identities/*/; do cp "$d"*.jpg "$WORK/images/"; done
cp "$SHARED"/images/* "$WORK/images/"
# Five frames of every video (every 40th), as lossless stills of 480-1280 px.
for v in "$SHARED"/videos/*.mp4; do
  ffmpeg -v error -i "$v" -vf "select='not(mod(n\,40))'" -fps_mode vfr -frames:v 5 "$WORK/images/frame-$(basename "$v" .mp4)-%02d.png"
done
.build/release/watermark-bench stills "$WORK/images" > "$WORK/stills.jsonl"
python3 - "$WORK/stills.jsonl" <<'PY'
import json, statistics as s, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"file"' in l]
attacks = ("none", "jpeg90", "jpeg75", "half")
print("| images | marking | " + " | ".join({"none": "as written", "jpeg90": "JPEG q90", "jpeg75": "JPEG q75", "half": "50% + q90"}[a] for a in attacks) + " | PSNR mean / lowest (dB) |")
print("|---|---|" + "---:|" * (len(attacks) + 1))
groups = (("LFW photos, 250x250", lambda r: r["width"] == 250 and r["height"] == 250),
          ("other photos (320-1920 px)", lambda r: not r["file"].startswith("frame-") and not (r["width"] == 250 and r["height"] == 250)),
          ("video frames (480-1280 px)", lambda r: r["file"].startswith("frame-")))
for name, keep in groups:
    g = [r for r in rows if keep(r)]
    for way in ("nominal", "informed"):
        cells = " | ".join("%d of %d (%.0f%%)" % (sum(r[f"{way}-{a}"] for r in g), len(g), 100 * sum(r[f"{way}-{a}"] for r in g) / len(g)) for a in attacks)
        p = [r["psnr" + way.capitalize()] for r in g]
        print(f"| {name} | {way} | {cells} | {s.mean(p):.1f} / {min(p):.1f} |")
summary = [json.loads(l)["summary"] for l in open(sys.argv[1]) if '"summary"' in l]
print("\nWrong payloads read (all cells): %d" % (summary[0].get("wrong payload", 0) if summary else -1))
PY
