#!/usr/bin/env python3
"""Runs Facet's model-bench and the peers (LiteRT via peer_infer_litert.py, dlib via peer_dlib_resnet.cpp)
alternately, takes the best of --repeat rounds for each figure, and writes a Markdown table."""
import argparse, os, re, subprocess, time

def run(cmd, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{out.stderr[-2000:]}")
    return out.stdout

def figures(text):
    """Lines 'NAME: X ms per ...' -> {NAME + unit: X}."""
    found = {}
    for line in text.splitlines():
        m = re.match(r"(.+?): ([0-9.]+) ms per (inference|face \((?:batch 16|single)\))", line.strip())
        if m:
            found[f"{m.group(1)} | {m.group(3)}"] = float(m.group(2))
    return found

def main():
    ap = argparse.ArgumentParser()
    for a in ("--facet", "--litert-python", "--litert-script", "--dlib-peer", "--models", "--chip", "--out"):
        ap.add_argument(a, required=True)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    best = {}
    core = ""
    for _ in range(args.repeat):
        facet = run([args.facet, "--models", args.models, "--chip", args.chip])
        core = next((l.split(":", 1)[1].strip() for l in facet.splitlines() if l.startswith("openblas kernels")), core)
        litert = run([args.litert_python, args.litert_script, args.models])
        dlib = run([args.dlib_peer, os.path.join(args.models, "dlib_face_recognition_resnet_model_v1.dat"), args.chip])
        for side, text in (("facet", facet), ("litert", litert), ("dlib", dlib)):
            for key, value in figures(text).items():
                best[(side, key)] = min(best.get((side, key), 1e9), value)
    rows = []
    pairs = [("face_detection_short_range | inference", "litert", "BlazeFace short range (128x128)"),
             ("face_detection_full_range | inference", "litert", "BlazeFace full range (192x192)"),
             ("face_landmark | inference", "litert", "FaceMesh (192x192)")]
    for key, peer, label in pairs:
        ours, theirs = best.get(("facet", key)), best.get((peer, key))
        if ours and theirs:
            rows.append((label, "ms per inference", ours, "LiteRT (XNNPACK, 2 threads)", theirs, ours / theirs))
    for unit in ("face (single)", "face (batch 16)"):
        ours = best.get(("facet", f"facet resnet | {unit}"))
        theirs = best.get(("dlib", f"dlib resnet | {unit}"))
        if ours and theirs:
            rows.append((f"face-recognition ResNet, {unit[6:-1]}", "ms per face", ours, "dlib 19.24 C++ (OpenBLAS)", theirs, ours / theirs))
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")
    # Hand-written sections after the table (the per-operator breakdown, issue 16) are kept across runs.
    kept = ""
    if os.path.exists(args.out):
        text = open(args.out).read()
        at = text.find("\n## ")
        kept = text[at:] if at >= 0 else ""
    with open(args.out, "w") as f:
        f.write("# Native model runtime vs LiteRT and dlib\n\n")
        f.write(f"Measured {time.strftime('%Y-%m-%d', time.gmtime())} on {os.cpu_count()} cores ({cpu}); OpenBLAS kernels: {core}. "
                f"Best of {args.repeat} rounds, tools run alternately in one invocation of `benchmarks/models/run.sh`; "
                "the same random inputs (TFLite) and the same 150x150 chip (ResNet).\n")
        f.write("Targets: BlazeFace and FaceMesh within 2x of LiteRT; ResNet no slower than dlib.\n\n")
        f.write("| model | unit | Facet | peer | peer figure | Facet / peer |\n|---|---|---:|---|---:|---:|\n")
        for r in rows:
            f.write(f"| {r[0]} | {r[1]} | {r[2]:.2f} | {r[3]} | {r[4]:.2f} | {r[5]:.2f} |\n")
        f.write(kept)
    for r in rows:
        print(f"{r[0]}: facet {r[2]:.2f} vs {r[3]} {r[4]:.2f} ({r[5]:.2f}x)")
    print(f"wrote {args.out}")

if __name__ == "__main__":
    main()
