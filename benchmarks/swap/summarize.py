"""Medians of benchmarks/swap/run.sh's runs as Markdown tables (for RESULTS.md).

Usage: python3 summarize.py --machine TEXT --peer TEXT RESULTS_DIR
       python3 summarize.py --wall FILE.time      (prints the wall-clock seconds of one /usr/bin/time -v file)
RESULTS_DIR holds NAME__CLIP__ROUND.{out,time}: NAME is ffmpeg, swap-MODEL, swap-faces-MODEL, peer-MODEL or
warmup (round 0, untimed; its swap report gives the clip's frame count).
"""
import glob
import json
import os
import re
import statistics
import sys

STAGES = ["analysisDecode", "detect", "mesh", "points5", "chips", "descriptors", "decode", "sample", "inference", "colour",
          "mask", "composite", "label", "encode", "join"]
CONVERT = ["sample", "inference", "colour", "mask", "composite"]
PEER_STAGES = ["decode", "sample", "inference", "colour", "mask", "composite", "encode"]


def read_time(path):
    text = open(path).read()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
    seconds = 0.0
    for part in wall.split(":"):
        seconds = seconds * 60 + float(part)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    cpu = sum(float(re.search(r"%s time \(seconds\): (\S+)" % k, text).group(1)) for k in ("User", "System"))
    return seconds, rss, cpu


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    args = sys.argv[1:]
    if args[0] == "--wall":
        wall, _, cpu = read_time(args[1])
        print("%.2f s wall, %.2f s CPU" % (wall, cpu))
        return
    opts = {}
    while args[0].startswith("--"):
        opts[args[0][2:]] = args[1]
        args = args[2:]
    res = args[0]
    runs = {}
    for t in glob.glob(os.path.join(res, "*.time")):
        name, clip, rnd = os.path.basename(t)[:-5].split("__")
        wall, rss, cpu = read_time(t)
        out = open(t[:-5] + ".out").read().strip()
        try:
            report = json.loads(out) if out else {}
        except ValueError:
            report = json.loads(out.splitlines()[-1])
        runs.setdefault((name, clip), []).append({"round": int(rnd), "wall": wall, "rss": rss, "cpu": cpu, "report": report})
    clips = sorted({c for _, c in runs})
    frames = {c: runs[("warmup", c)][0]["report"]["outputs"][0]["frames"] for c in clips}
    rounds = max(len(v) for k, v in runs.items() if k[0] != "warmup")
    print("Machine: %s. Peer: %s. %d rounds, medians; every run a separate process timed by /usr/bin/time -v." %
          (opts.get("machine", "?"), opts.get("peer", "?"), rounds))
    print()
    print("| clip | system | model | wall s | frames/s end to end | × ffmpeg floor time | CPU s (user+sys) | CPU ms/frame | "
          "× ffmpeg floor CPU | convert s | convert frames/s | faces | peak RSS MB |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    order = ["ffmpeg", "swap-lite", "swap-faces-lite", "peer-lite", "swap-original", "swap-faces-original", "peer-original"]
    for clip in clips:
        floor = median([r["wall"] for r in runs.get(("ffmpeg", clip), [])])
        floor_cpu = median([r["cpu"] for r in runs.get(("ffmpeg", clip), [])])
        for name in order:
            rs = [r for r in runs.get((name, clip), [])]
            if not rs:
                continue
            wall = median([r["wall"] for r in rs])
            cpu = median([r["cpu"] for r in rs])
            rss = median([r["rss"] for r in rs]) / 1024
            model = name.split("-")[-1] if name != "ffmpeg" else "—"
            system = {"ffmpeg": "FFmpeg transcode (floor)", "swap": "Facet swap (video)", "swap-faces": "Facet swap (faces manifest)",
                      "peer": "faceswap-style peer (alignments)"}[name.rsplit("-", 1)[0] if name != "ffmpeg" else "ffmpeg"]
            if name == "ffmpeg":
                conv, faces = None, None
            elif name.startswith("peer"):
                conv = median([r["report"]["convertSeconds"] for r in rs])
                faces = rs[0]["report"]["faces"]
            else:
                conv = median([sum(r["report"]["stages"][k] for k in CONVERT) for r in rs])
                faces = rs[0]["report"]["outputs"][0]["swapped"]
            print("| %s | %s | %s | %.2f | %.1f | %.2f× | %.2f | %.1f | %.2f× | %s | %s | %s | %.0f |" % (
                clip, system, model, wall, frames[clip] / wall, wall / floor, cpu, 1000 * cpu / frames[clip], cpu / floor_cpu,
                "—" if conv is None else "%.2f" % conv, "—" if conv is None else "%.1f" % (frames[clip] / conv),
                "—" if faces is None else faces, rss))
    print()
    print("Facet swap (video input): where the time went, median seconds per stage (calling thread's wall clock; "
          "`swap --json` `stages`).")
    print()
    names = [n for n in ["swap-lite", "swap-original", "swap-faces-lite", "swap-faces-original"] if any((n, c) in runs for c in clips)]
    cols = [(n, c) for c in clips for n in names if (n, c) in runs]
    print("| stage | " + " | ".join("%s %s" % (c, n) for n, c in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for st in STAGES + ["(convert)", "(other: load, manifests, hashing)", "(wall)"]:
        cells = []
        for key in cols:
            rs = runs[key]
            if st == "(convert)":
                v = median([sum(r["report"]["stages"][k] for k in CONVERT) for r in rs])
            elif st == "(wall)":
                v = median([r["wall"] for r in rs])
            elif st.startswith("(other"):
                v = median([r["wall"] - sum(r["report"]["stages"].get(k, 0.0) for k in STAGES) for r in rs])
            else:
                v = median([r["report"]["stages"].get(st, 0.0) for r in rs])
            cells.append("%.2f" % v)
        print("| %s | %s |" % (st, " | ".join(cells)))
    print()
    print("Peer: median seconds per stage (its own timers; `decode`/`encode` are time spent waiting on the ffmpeg pipes).")
    print()
    cols = [(n, c) for c in clips for n in ["peer-lite", "peer-original"] if (n, c) in runs]
    print("| stage | " + " | ".join("%s %s" % (c, n) for n, c in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for st in PEER_STAGES + ["(convert)", "(load: imports, model, warm-up)", "(wall)"]:
        cells = []
        for key in cols:
            rs = runs[key]
            if st == "(convert)":
                v = median([r["report"]["convertSeconds"] for r in rs])
            elif st == "(wall)":
                v = median([r["wall"] for r in rs])
            elif st.startswith("(load"):
                v = median([r["report"]["loadSeconds"] for r in rs])
            else:
                v = median([r["report"]["stages"][st] for r in rs])
            cells.append("%.2f" % v)
        print("| %s | %s |" % (st, " | ".join(cells)))
    print()
    print("Every run (wall s):")
    print()
    for key in sorted(k for k in runs if k[0] != "warmup"):
        print("- %s %s: %s" % (key[1], key[0], ", ".join("%.2f" % r["wall"] for r in sorted(runs[key], key=lambda r: r["round"]))))


if __name__ == "__main__":
    main()
