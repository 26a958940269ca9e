#!/usr/bin/env python3
"""Turns benchmarks/dedupe/run.sh's raw results into RESULTS.md (best round per case)."""
import argparse, datetime, glob, json, os, re, subprocess

def time_v(path):
    text = open(path).read()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
    parts = [float(p) for p in wall.split(":")]
    seconds = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    return seconds, rss

def best(results, name):
    runs = []
    for t in glob.glob(os.path.join(results, f"{name}__*.time")):
        seconds, rss = time_v(t)
        with open(t[:-5] + ".json") as f:
            report = json.load(f)
        runs.append((seconds, rss, report))
    return min(runs, key=lambda r: r[0])

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results"); ap.add_argument("--rounds"); ap.add_argument("--commit"); ap.add_argument("--load-before")
    ap.add_argument("--out")
    a = ap.parse_args()
    cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"], capture_output=True, text=True).stdout.strip()
    cores = os.cpu_count()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    real = best(a.results, "real2000"); rerun = best(a.results, "real2000-rerun"); audit = best(a.results, "audit")
    r = real[2]
    lines = [
        "# `dedupe`: seconds and peak memory", "",
        f"Measured {now} on {cores} cores ({cpu}), Facet at {a.commit}, by `benchmarks/dedupe/run.sh`: best of {a.rounds} rounds "
        f"(least wall time); peak memory is the maximum resident set size from `/usr/bin/time -v`. Load average before the runs: {a.load_before}.",
        "", "No peer: no other tool makes these decisions (see README.md).", "",
        "## Real faces through the CLI", "",
        f"`dedupe build` over the faces `detect` found in d6.mp4, d9.mp4 and d10.mp4: {r['facesRead']} faces read, {r['kept']} kept "
        f"(dropped: {', '.join(f'{n} {k}' for k, n in sorted(r['dropped'].items()))}); every crop decoded and hashed, the kept ones copied "
        "into the dataset folder with their SHA-256, the manifest, report and catalog rows written.", "",
        "| run | faces | wall seconds | faces/s | peak memory |", "|---|---:|---:|---:|---:|",
        f"| build (first) | {r['facesRead']} | {real[0]:.2f} | {r['facesRead'] / real[0]:.0f} | {real[1] / 1024:.0f} MiB |",
        f"| re-run, nothing to do (inputs hashed, folder verified) | {r['facesRead']} | {rerun[0]:.2f} | | {rerun[1] / 1024:.0f} MiB |",
        f"| audit against d3.mp4 ({audit[2]['target']['faces']} target faces; JSON, 4 PNGs, HTML) | {audit[2]['dataset']['faces']} | {audit[0]:.2f} | | {audit[1] / 1024:.0f} MiB |",
        "", "## Synthetic faces through the library (`dedupe-bench`)", "",
        "The same calls as a build (quality filters, near-duplicate grouping, coverage selection to 2,000) on made-up signatures: runs of "
        "8 near-identical frames per moment, so about 1 face in 8 is distinct. No crop files, so no decoding or copying; "
        "`generate` is the time to make the faces.", "",
        "| case | faces | passed filters | distinct | selected | generate s | filters s | grouping s | selection s | process wall s | peak memory |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, label in [("synthetic2000", "2,000, varied poses"), ("synthetic100000", "100,000, varied poses (yaw sd 25°)"),
                        ("synthetic100000-talking", "100,000, one talking head (yaw sd 5°)")]:
        s, rss, j = best(a.results, name)
        lines.append(f"| {label} | {j['faces']} | {j['passedFilters']} | {j['distinct']} | {j['selected']} | {j['generateSeconds']:.2f} | "
                     f"{j['filterSeconds']:.3f} | {j['groupSeconds']:.2f} | {j['selectSeconds']:.3f} | {s:.2f} | {rss / 1024:.0f} MiB |")
    lines += ["", "Grouping grows with the number of faces times the number of kept faces of similar pose: poses crowded into a few "
              "cells (a talking head) cost more per face than varied footage.", ""]
    open(a.out, "w").write("\n".join(lines))

main()
