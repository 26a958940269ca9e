#!/usr/bin/env python3
"""Turns benchmarks/watermark/run.sh's logs into the Markdown tables of RESULTS.md (and results.json)."""
import json, os, statistics, sys

work, payload = sys.argv[1], sys.argv[2]
ROWS = [("none", "none (marked output, H.264 CRF 18)"), ("crf23", "H.264 re-encode CRF 23"), ("crf28", "H.264 re-encode CRF 28"),
        ("half", "downscale 50% (CRF 18)"), ("h360", "downscale to 360 px high (CRF 18)"), ("crop10", "crop 10% per side (CRF 18)"),
        ("fps25", "frame rate 30→25 (CRF 18)"), ("excerpt2s", "2-s excerpt (CRF 18)"),
        ("goal", "**2-s excerpt + 50% downscale + CRF 28** (goal ≥ 99%)"), ("jpeg75", "single frame, JPEG q75"),
        ("brightness", "brightness ±10% (±25 levels)"), ("contrast", "contrast ±10%"), ("hflip", "horizontal flip")]

def lines(name):
    path = os.path.join(work, "logs", name)
    if not os.path.exists(path): return []
    out = []
    for l in open(path):
        try: out.append(json.loads(l))
        except json.JSONDecodeError: pass  # two parallel writers can interleave a long line; that file is left out
    return out

def row_of(path):
    return os.path.basename(path).split("__")[0]

facet, peer = {}, {}
for d in lines("facet-detect.jsonl"):
    r = d.get("report")
    if r: facet.setdefault(row_of(r["file"]), []).append((r["detected"], r.get("payload") == payload, r["zScore"], d["seconds"], r["framesUsed"]))
wrong = [d["report"]["file"] for d in lines("facet-detect.jsonl")
         if d.get("report") and d["report"].get("payload") and d["report"]["payload"] != payload]
for d in lines("peer-detect.jsonl"):
    peer.setdefault(row_of(d["file"]), []).append((d["right"], d["seconds"], d["framesUsed"]))

out = {"rows": [], "payload": payload}
print("| attack | files | Facet: detected | Facet: detected, right payload | Facet: median z | invisible-watermark: right payload |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for key, label in ROWS:
    f, p = facet.get(key, []), peer.get(key, [])
    if not f: continue
    det = sum(x[0] for x in f) / len(f); right = sum(x[1] for x in f) / len(f)
    pr = sum(x[0] for x in p) / len(p) if p else float("nan")
    z = statistics.median(x[2] for x in f)
    out["rows"].append({"attack": key, "files": len(f), "facetDetected": det, "facetRightPayload": right, "facetMedianZ": z, "peerRightPayload": pr, "peerFiles": len(p)})
    print(f"| {label} | {len(f)} | {100*det:.0f}% | {100*right:.0f}% | {z:.1f} | {100*pr:.0f}% |")

print(f"\nFacet reported a wrong payload for {len(wrong)} of {sum(len(v) for v in facet.values())} attacked files.")
out["facetWrongPayloads"] = wrong
fm, pm = lines("facet-mark.jsonl"), lines("peer-mark.jsonl")
def per_frame(ms):
    frames = sum(m["frames"] for m in ms); return sum(m["embedMillisecondsPerFrame"] * m["frames"] for m in ms) / max(1, frames)
stage_f = [m for m in fm if "two_people_stage" in m["input"]]
stage_p = [m for m, s in zip(pm, fm) if "two_people_stage" in s["input"]]
allf = [x for v in facet.values() for x in v]; allp = [x for v in peer.values() for x in v]
speed = {"facetEmbedMsPerFrame": per_frame(fm), "peerEmbedMsPerFrame": per_frame(pm),
         "facetEmbedMsPerFrame640x360": per_frame(stage_f), "peerEmbedMsPerFrame640x360": per_frame(stage_p),
         "facetDetectSecondsPerFile": statistics.median(x[3] for x in allf) if allf else None,
         "peerDetectSecondsPerFile": statistics.median(x[1] for x in allp) if allp else None,
         "facetPSNRMean": statistics.mean(m["psnrMean"] for m in fm), "facetPSNRMin": min(m["psnrMin"] for m in fm),
         "facetSSIMMean": statistics.mean(m["ssimMean"] for m in fm), "facetSSIMMinOfClipMeans": min(m["ssimMean"] for m in fm)}
out["speedAndQuality"] = speed
print()
print("| | Facet | invisible-watermark |")
print("| --- | ---: | ---: |")
print(f"| embed, ms per frame (all clips) | {speed['facetEmbedMsPerFrame']:.2f} | {speed['peerEmbedMsPerFrame']:.2f} |")
print(f"| embed, ms per frame at 640x360 | {speed['facetEmbedMsPerFrame640x360']:.2f} | {speed['peerEmbedMsPerFrame640x360']:.2f} |")
if allf and allp:
    print(f"| detect, median s per file (Facet: every frame, ≤ 450; peer: ≤ 60 frames) | {speed['facetDetectSecondsPerFile']:.2f} | {speed['peerDetectSecondsPerFile']:.2f} |")
print(f"\nFacet quality over {len(fm)} clips: PSNR mean {speed['facetPSNRMean']:.1f} dB (lowest frame {speed['facetPSNRMin']:.1f} dB); "
      f"SSIM mean {speed['facetSSIMMean']:.4f} (lowest clip mean {speed['facetSSIMMinOfClipMeans']:.4f}).")
for m in fm:
    print(f"- {os.path.basename(m['input'])}: {m['width']}x{m['height']}, PSNR {m['psnrMean']:.1f} dB, SSIM {m['ssimMean']:.4f}")

speed_lines = lines("embed-speed.jsonl")
if speed_lines:
    print("\n| embed (`watermark-bench embed-speed`, best of rounds) | frames | vectorised, ms per frame | scalar reference, ms per frame | speed-up | same bytes |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for e in speed_lines:
        print(f"| {os.path.basename(e['video'])} {e['width']}x{e['height']} | {e['frames']} | {e['embedMillisecondsPerFrame']:.2f} | "
              f"{e['referenceMillisecondsPerFrame']:.2f} | {e['speedup']:.1f}x | {'yes' if e['identical'] else 'NO'} |")
    out["embedSpeed"] = speed_lines

fp = lines("fp-detect.jsonl")
reports = [d["report"] for d in fp if d.get("report")]
errors = [d for d in fp if not d.get("report")]
flagged = [r for r in reports if r["detected"]]
out["falsePositives"] = {"files": len(reports), "flagged": len(flagged), "errors": len(errors),
                         "flaggedFiles": [r["file"] for r in flagged],
                         "payloadsRead": [r["file"] for r in reports if r.get("payload")], "maxZ": max((r["zScore"] for r in reports), default=0),
                         "minProbability": min((r["falsePositiveProbability"] for r in reports), default=1)}
print(f"\nFalse positives: {len(flagged)} of {len(reports)} unmarked files flagged ({100*len(flagged)/max(1,len(reports)):.2f}%), "
      f"{len(errors)} unreadable; highest z {out['falsePositives']['maxZ']:.2f}, smallest false-positive probability "
      f"{out['falsePositives']['minProbability']:.3g}; a CRC-checked payload read in {len(out['falsePositives']['payloadsRead'])}.")
json.dump(out, open(os.path.join(work, "results.json"), "w"), indent=1)
