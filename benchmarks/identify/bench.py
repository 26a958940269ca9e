"""Runs Facet's ResNet (model-bench) and dlib's C++ peer alternately, then times `identify label` end to end
with an empty descriptor cache and with a full one. Best of --repeat runs; writes a Markdown table."""
import argparse, json, os, re, sqlite3, subprocess, time


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def resnet_figures(text, side):
    out = {}
    for unit in ("single", "batch 16"):
        m = re.search(rf"{side} resnet: ([0-9.]+) ms per face \({unit}\)", text) or \
            re.search(rf"{side} resnet \| face \({unit}\)[^0-9]*([0-9.]+)", text)
        if m:
            out[unit] = float(m.group(1))
    return out


def main():
    ap = argparse.ArgumentParser()
    for a in ("--bin", "--dlib-peer", "--models", "--chip", "--clip", "--reference", "--work", "--out"):
        ap.add_argument(a, required=True)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    env = dict(os.environ, FACET_MODELS=args.models)
    best = {}
    for _ in range(args.repeat):
        facet = run([os.path.join(args.bin, "model-bench"), "--models", args.models, "--chip", args.chip, "--runs", "20"], env=env)
        dlib = run([args.dlib_peer, os.path.join(args.models, "dlib_face_recognition_resnet_model_v1.dat"), args.chip])
        for side, text in (("facet", facet), ("dlib", dlib)):
            for unit, ms in resnet_figures(text, side).items():
                best[(side, unit)] = min(best.get((side, unit), 1e9), ms)

    # End to end on a clip: detect once (not timed), enrol one person, then label.
    ws = os.path.join(args.work, "ws")
    detect = json.loads(run([os.path.join(args.bin, "detect"), "--workspace", ws, "--json", "-q", args.clip], env=env))
    faces_manifest = detect["manifest"]
    run([os.path.join(args.bin, "identify"), "enroll", "--workspace", ws, "-q", "--name", "reference", args.reference], env=env)
    cold, warm, faces = 1e9, 1e9, 0
    for _ in range(args.repeat):
        with sqlite3.connect(os.path.join(ws, "catalog.sqlite")) as db:
            db.execute("DELETE FROM face_embeddings")
        t = time.perf_counter()
        report = json.loads(run([os.path.join(args.bin, "identify"), "label", "--workspace", ws, "--json", "-q", faces_manifest], env=env))
        cold = min(cold, time.perf_counter() - t)
        faces = report["faces"]
        assert report["embedded"] == faces, report
        t = time.perf_counter()
        report = json.loads(run([os.path.join(args.bin, "identify"), "label", "--workspace", ws, "--json", "-q", faces_manifest], env=env))
        warm = min(warm, time.perf_counter() - t)
        assert report["embedded"] == 0, report

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    with open(args.out, "w") as f:
        f.write("# identify: face descriptors vs dlib, and labelling throughput\n\n")
        f.write(f"Machine: {cpu}, {os.cpu_count()} cores. Best of {args.repeat} runs, both sides alternating in one run "
                "(`benchmarks/identify/run.sh`).\n\n")
        f.write("Target: no slower than dlib per face.\n\n")
        f.write("| work | Facet ms/face | Facet faces/s | dlib 19.24 C++ (OpenBLAS) ms/face | dlib faces/s | Facet time / dlib time |\n")
        f.write("|---|---|---|---|---|---|\n")
        for unit in ("single", "batch 16"):
            ours, theirs = best.get(("facet", unit)), best.get(("dlib", unit))
            if ours and theirs:
                f.write(f"| ResNet descriptor, {unit} | {ours:.2f} | {1000 / ours:.1f} | {theirs:.2f} | {1000 / theirs:.1f} | {ours / theirs:.2f}x |\n")
        f.write("\nEnd to end, `identify label` on the faces of `Datasets/samples/two_people_stage.mp4` "
                f"({faces} faces, 256 px PNG crops; process start, manifest read, crop read and hash, decode, chip, "
                "descriptor in batches of 16, decisions, manifest and catalog writes):\n\n")
        f.write("| run | seconds | faces/s |\n|---|---|---|\n")
        f.write(f"| empty descriptor cache | {cold:.2f} | {faces / cold:.1f} |\n")
        f.write(f"| descriptors cached in the catalog | {warm:.2f} | {faces / warm:.1f} |\n")
    print(open(args.out).read())


if __name__ == "__main__":
    main()
