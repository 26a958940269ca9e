#!/usr/bin/env python3
"""Reads the runs collected by run.sh (Facet's `detect` and the LiteRT peer, several rounds per clip), keeps the
best round (least wall time) per tool and clip, and writes RESULTS.md: per-stage milliseconds per frame side by
side, frames per second, and peak memory on a clip and the same clip looped three times.

Input folder layout (written by run.sh): TOOL__CLIP__ROUND.json (the tool's JSON report on stdout) and
TOOL__CLIP__ROUND.time (`/usr/bin/time -v` output), TOOL in {facet, facet1 (`--analyzers 1`), peer}. Standard library only."""
import argparse, glob, json, os, re, statistics, subprocess, time

STAGES = ["decode", "detect", "mesh", "points5", "align", "write", "wait"]
CORE = ["detect", "mesh", "align"]          # detection + landmarks + pose (alignment and pose are one stage)
TARGET_FPS = 60.0
TOOLS = {"facet": "Facet `detect`", "facet1": "Facet `detect --analyzers 1`", "peer": "LiteRT peer"}


def parse_report(text):
    """The JSON object a tool printed: the whole stdout, or else its last line that parses as an object."""
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        return json.loads(text[start:end + 1])  # a pretty-printed object among other lines
    raise ValueError("no JSON object in the output")


def parse_rss_kib(text):
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    return int(m.group(1)) if m else None


def parse_elapsed(text):
    """Seconds of "Elapsed (wall clock) time (h:mm:ss or m:ss): 1:02.34"."""
    m = re.search(r"Elapsed \(wall clock\) time.*?: ([0-9:.]+)", text)
    if not m:
        return None
    secs = 0.0
    for part in m.group(1).split(":"):
        secs = secs * 60 + float(part)
    return secs


def parse_cpu_seconds(text):
    """User + system seconds of the whole process (all threads), from `time -v`."""
    user = re.search(r"User time \(seconds\): ([0-9.]+)", text)
    system = re.search(r"System time \(seconds\): ([0-9.]+)", text)
    return float(user.group(1)) + float(system.group(1)) if user and system else None


def load(folder):
    """{(tool, clip): [run, ...]} where run = the report plus 'rss_kib' and 'round'."""
    runs = {}
    for path in sorted(glob.glob(os.path.join(folder, "*__*__*.json"))):
        tool, clip, rnd = os.path.basename(path)[:-5].split("__")
        with open(path) as f:
            report = parse_report(f.read())
        tpath = path[:-5] + ".time"
        timing = open(tpath).read() if os.path.exists(tpath) else ""
        report["rss_kib"], report["process_seconds"] = parse_rss_kib(timing), parse_elapsed(timing)
        cpu = parse_cpu_seconds(timing)
        report["cpu_ms_per_frame"] = 1000 * cpu / report["frames"] if cpu is not None and report.get("frames") else None
        report["round"] = int(rnd)
        runs.setdefault((tool, clip), []).append(report)
    return runs


def probe(path):
    """(width, height, frames) of a video's first video stream."""
    try:
        out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
                              "stream=width,height,nb_read_packets", "-of", "csv=p=0", path],
                             capture_output=True, text=True, check=True).stdout.strip().split(",")
        return int(out[0]), int(out[1]), int(out[2])
    except (OSError, subprocess.CalledProcessError, ValueError, IndexError):
        return None


def stage(run, name):
    v = (run.get("stages") or {}).get(name)
    return float(v) if isinstance(v, (int, float)) else None


def core_ms(run):
    vals = [stage(run, s) for s in CORE]
    return sum(vals) if all(v is not None for v in vals) else None


def wall_fps(run):
    return run["frames"] / run["seconds"] if run.get("seconds") else None


def f2(v, unit=""):
    return "—" if v is None else f"{v:.2f}{unit}"


def ratio(a, b):
    return "—" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def mib(kib):
    return "—" if kib is None else f"{kib / 1024:.0f} MiB"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True, help="folder of TOOL__CLIP__ROUND.{json,time}")
    ap.add_argument("--clip", nargs=2, action="append", metavar=("KEY", "PATH"), required=True,
                    help="a clip key used in the file names and its video (repeat; order = order in RESULTS.md)")
    ap.add_argument("--loop-of", nargs=2, metavar=("LOOPED_KEY", "KEY"),
                    help="LOOPED_KEY is KEY's clip looped 3 times (memory comparison)")
    ap.add_argument("--facet-commit", default="")
    ap.add_argument("--load-before", default="", help="the 1-minute load average before the first run")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    runs = load(args.results)
    rounds = max((len(v) for v in runs.values()), default=0)
    best = {k: min(v, key=lambda r: r["seconds"]) for k, v in runs.items()}
    peak = {k: max((r["rss_kib"] for r in v if r["rss_kib"] is not None), default=None) for k, v in runs.items()}
    clips = {key: (path, probe(path)) for key, path in args.clip}
    looped = dict([args.loop_of]) if args.loop_of else {}

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
    peer_versions = next((r.get("versions") for (t, _), r in best.items() if t == "peer" and r.get("versions")), {})
    pv = ", ".join(f"{k} {v}" for k, v in peer_versions.items() if v)
    points5_peer = any(stage(r, "points5") is not None for (t, _), r in best.items() if t == "peer")

    pk = args.clip[0][0]
    png = (best.get(("peer", pk)) or {}).get("png_bytes_mean")

    def describe(key):
        path, info = clips[key]
        name = os.path.basename(path) if key not in looped else f"{os.path.basename(clips[looped[key]][0])} looped 3×"
        return name + (f" ({info[0]}×{info[1]}, {info[2]} frames)" if info else "")

    L = []
    L.append("# `detect`: Facet beside LiteRT, stage by stage\n")
    L.append(f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores ({cpu})"
             + (f", Facet at {args.facet_commit}" if args.facet_commit else "") + ". "
             f"Both tools run alternately in one invocation of `benchmarks/detect/run.sh`, {rounds} round{'s' if rounds != 1 else ''}; "
             "each figure is from the round with the least wall time for that tool and clip."
             + (f" Load average before the first run: {args.load_before}." if args.load_before else "") + "\n")
    L.append("- **Facet**: `.build/release/detect --json -q` on a fresh temporary workspace per run (no resume); "
             "its own per-stage report.")
    if any(t == "facet1" for (t, _) in best):
        L.append("- **Facet, one frame at a time**: the same with `--analyzers 1` (each clip's second table).")
    L.append("- **LiteRT peer** (`peer_detect_litert.py`): the same per-frame pipeline in Python with Google's LiteRT "
             "interpreter (XNNPACK, 2 threads) for BlazeFace full range and FaceMesh (two passes per face), OpenCV for "
             "decoding, the crops, the warp, the hull mask and PNG encoding, numpy for anchors, NMS, Umeyama and pose, "
             + ("dlib's 5-point shape predictor (PyPI `dlib-bin`) for points5" if points5_peer
                else "no 5-point stage (no dlib wheel installed: points5 is shown as —)")
             + (f". Versions: {pv}." if pv else ".")
             + (f" The peer's PNGs (OpenCV's default settings) average {png / 1024:.0f} KiB on {describe(pk)}." if png else ""))
    L.append("- Stage figures are milliseconds per decoded frame (a stage that runs per face is summed over the "
             "frame's faces). **detect+mesh+pose** = detect + mesh + align (align includes the similarity, the "
             "256×256 warp, the hull mask and the head pose); it leaves out decoding, points5 and writing. Facet's **wait** is the "
             "time its main thread was blocked handing crops to its PNG writer threads (they had fallen behind); the peer "
             "writes on its one thread, so it has no such row. "
             "**whole pipeline** = frames / wall seconds of the run (the tool's own `seconds`; model loading "
             "excluded for the peer). Facet locates faces with one analyzer per core, several frames at once, while its "
             "main thread aligns earlier frames and encoder threads write crops, so its stages overlap: its detect, mesh, "
             "points5, align and write figures are the CPU time of the threads that did them, added up over the cores "
             "(their cost whatever else shares the cores; decode and wait are the main thread's wall time). Compare "
             "them with the peer's **CPU** column (the peer process's CPU time during the stage, XNNPACK's and OpenCV's "
             "threads included); the peer's wall column is the time its one frame at a time took with 2 threads.\n")
    L.append(f"Target (issue): detection + landmarks + pose at **{TARGET_FPS:.0f} frames/s or more** on 512×512 "
             "video, crop writing excluded; memory flat in video length.\n")

    verdicts = []
    for key, _ in args.clip:
        if key in looped:
            continue
        f, p = best.get(("facet", key)), best.get(("peer", key))
        if not f and not p:
            continue
        L.append(f"## {describe(key)}\n")
        L.append("| stage | Facet ms/frame | LiteRT peer ms/frame | Facet / peer | LiteRT peer CPU ms/frame | Facet / peer CPU |")
        L.append("|---|---:|---:|---:|---:|---:|")
        for s in STAGES:
            a, b = (stage(f, s) if f else None), (stage(p, s) if p else None)
            c = ((p.get("cpuStages") or {}).get(s) if p else None)
            L.append(f"| {s} | {f2(a)} | {f2(b)} | {ratio(a, b)} | {f2(c)} | {ratio(a, c)} |")
        a, b = (core_ms(f) if f else None), (core_ms(p) if p else None)
        pc = sum(((p.get("cpuStages") or {}).get(s) or 0) for s in ("detect", "mesh", "align")) if p and p.get("cpuStages") else None
        L.append(f"| **detect+mesh+pose** | **{f2(a)}** | {f2(b)} | {ratio(a, b)} | {f2(pc)} | {ratio(a, pc)} |")
        fa, fb = (1000 / a if a else None), (1000 / b if b else None)
        # Facet's figure is CPU time and the peer's wall time spread over 2 threads: frames/s per core of CPU compares
        # like with like (Facet's analyzers each use one core; the peer's CPU column is both threads' time).
        fpc = (1000 / pc if pc else None)
        L.append(f"| detect+mesh+pose, frames/s per core of CPU | **{f2(fa)}** | {f2(fpc)} | {ratio(fa, fpc)} |")
        wa, wb = (wall_fps(f) if f else None), (wall_fps(p) if p else None)
        L.append(f"| **whole pipeline (wall), frames/s** | **{f2(wa)}** | {f2(wb)} | {ratio(wa, wb)} |")
        ca, cb = (f.get("cpu_ms_per_frame") if f else None), (p.get("cpu_ms_per_frame") if p else None)
        L.append(f"| whole process CPU (user + system), ms/frame | {f2(ca)} | {f2(cb)} | {ratio(ca, cb)} |")
        L.append(f"| wall seconds (tool's own) | {f2(f['seconds'] if f else None)} | {f2(p['seconds'] if p else None)} | |")
        L.append(f"| process seconds (incl. start-up, model loading) | {f2(f.get('process_seconds') if f else None)} | "
                 f"{f2(p.get('process_seconds') if p else None)} | |")
        counts = ["%d / %d" % (r["faces"], r["frames"]) if r else "—" for r in (f, p)]
        L.append(f"| faces / frames | {counts[0]} | {counts[1]} | |")
        L.append("")
        L.append("Facet / peer: below 1 on milliseconds, above 1 on frames/s, means Facet is faster.\n")
        o = best.get(("facet1", key))
        if o and p:
            L.append("One frame at a time, the peer's own way: `detect --analyzers 1` (one analyzer; each network spread "
                     "over both cores, as XNNPACK's 2 threads are; its detect and mesh are then the time the analysing thread spent on "
                     "them, close to wall time; align, whose crop is then split across the cores too, likewise; points5 and "
                     "write are as above), beside the peer's wall time per stage. Facet's crop writers still run beside the "
                     "analysing thread (the peer writes after each frame), in Linux's idle scheduling class so that the "
                     "networks take the cores back from them at once. The last column pairs each round's two runs (the "
                     "tools alternate, so a round's runs are seconds apart): the median of those ratios and their range, "
                     "which the host's drift between rounds does not move.\n")
            # Rounds alternate the tools, so round r of each ran within seconds of the other: the per-round ratio is
            # free of the host's drift between rounds, and its median and range show how steady the comparison is.
            pairs = [(x, y) for x in runs.get(("facet1", key), []) for y in runs.get(("peer", key), []) if x["round"] == y["round"]]

            def paired(measure):
                values = sorted(measure(x) / measure(y) for x, y in pairs if measure(x) and measure(y))
                if not values:
                    return "—"
                return f"{statistics.median(values):.2f} ({values[0]:.2f}–{values[-1]:.2f})"
            L.append(f"| stage | Facet `--analyzers 1` ms/frame | LiteRT peer ms/frame | Facet / peer | Facet / peer, per round: median (range of {len(pairs)}) |")
            L.append("|---|---:|---:|---:|---:|")
            for s in STAGES:
                a, b = stage(o, s), stage(p, s)
                L.append(f"| {s} | {f2(a)} | {f2(b)} | {ratio(a, b)} | {paired(lambda r, s=s: stage(r, s))} |")
            a, b = core_ms(o), core_ms(p)
            L.append(f"| **detect+mesh+pose** | **{f2(a)}** | {f2(b)} | {ratio(a, b)} | **{paired(core_ms)}** |")
            fa1, fb1 = (1000 / a if a else None), (1000 / b if b else None)
            L.append(f"| detect+mesh+pose, frames/s | **{f2(fa1)}** | {f2(fb1)} | {ratio(fa1, fb1)} | {paired(lambda r: 1000 / core_ms(r) if core_ms(r) else None)} |")
            wa, wb = wall_fps(o), wall_fps(p)
            L.append(f"| **whole pipeline (wall), frames/s** | **{f2(wa)}** | {f2(wb)} | {ratio(wa, wb)} | **{paired(wall_fps)}** |")
            ca, cb = o.get("cpu_ms_per_frame"), p.get("cpu_ms_per_frame")
            L.append(f"| whole process CPU (user + system), ms/frame | {f2(ca)} | {f2(cb)} | {ratio(ca, cb)} |")
            L.append(f"| faces / frames | {o['faces']} / {o['frames']} | {p['faces']} / {p['frames']} | |")
            L.append("")
        info = clips[key][1]
        if info and info[0] == 512 and info[1] == 512 and fa is not None:
            verdicts.append((describe(key), fa))

    if looped:
        L.append("## Memory: peak resident set size, 1× vs 3× the same clip\n")
        L.append("`/usr/bin/time -v` \"Maximum resident set size\" of the whole process, the largest of the rounds.\n")
        flat = []
        for lk, k in looped.items():
            L.append(f"1×: {describe(k)}; 3×: {describe(lk)}.\n")
            L.append("| tool | 1× | 3× | 3× / 1× |")
            L.append("|---|---:|---:|---:|")
            for tool in ("facet", "peer"):
                a, b = peak.get((tool, k)), peak.get((tool, lk))
                L.append(f"| {TOOLS[tool]} | {mib(a)} | {mib(b)} | {ratio(b, a)} |")
                if tool == "facet" and a and b:
                    flat.append(b <= a * 1.10 + 8 * 1024)
        L.append("")
        for lk, k in looped.items():
            fr = [best.get((t, lk)) for t in ("facet", "peer")]
            L.append("Frames/s on the looped clip (whole pipeline, wall): " + ", ".join(
                f"{TOOLS[t]} {f2(wall_fps(r))}" for t, r in zip(("facet", "peer"), fr) if r) + ".\n")
        if flat:
            L.append(f"Memory flat in video length (Facet's 3× peak within 10 % + 8 MiB of its 1× peak): "
                     f"**{'yes' if all(flat) else 'no'}**.\n")

    L.append("## Target\n")
    if verdicts:
        for name, fps in verdicts:
            L.append(f"- {name}: Facet detect+mesh+pose at {fps:.1f} frames/s against the target of "
                     f"{TARGET_FPS:.0f}: **{'met' if fps >= TARGET_FPS else 'not met'}**.")
    else:
        L.append("- No 512×512 clip with a Facet result: the target could not be checked.")
    L.append("")

    with open(args.out, "w") as f:
        f.write("\n".join(L))
    print("\n".join(L))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
