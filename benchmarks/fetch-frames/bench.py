#!/usr/bin/env python3
"""fetch-frames vs the ffmpeg CLI on identical work: same clip, same sampled frames, same JPEG quality.

Makes 1080p H.264 test clips from a shared talking-head video (10 s and 30 s, 30 fps), then for each
case runs both tools alternately (best of --repeat runs each; fetch-frames into a fresh workspace every
time, so it really decodes and encodes) and records wall time and peak resident memory of the process
tree. Writes a Markdown table to --out.
"""
import argparse, os, platform, resource, shutil, subprocess, sys, tempfile, time

def measured(cmd):
    """Runs cmd inside a fresh python child so RUSAGE_CHILDREN is that command's alone."""
    code = ("import resource,subprocess,sys,time;s=time.perf_counter();"
            "r=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.PIPE);"
            "w=time.perf_counter()-s;"
            "sys.stderr.write(r.stderr.decode()[-2000:]) if r.returncode else None;"
            "print(r.returncode,w,resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024.0)")
    out = subprocess.run([sys.executable, "-c", code] + cmd, capture_output=True, text=True)
    rc, wall, mib = out.stdout.split()
    if rc != "0":
        sys.exit(f"failed ({rc}): {' '.join(cmd)}\n{out.stderr}")
    return float(wall), float(mib)

def make_clip(src, dst, seconds):
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", src, "-t", str(seconds),
                    "-vf", "scale=1920:1080,fps=30", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                    "-pix_fmt", "yuv420p", "-an", dst], check=True)

def count_files(folder):
    return sum(len(files) for _, _, files in os.walk(folder))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quality", type=int, default=95)
    args = ap.parse_args()
    qscale = int(round(2 + (100 - args.quality) * 29 / 99))  # ImageEncoder.jpegQScale
    work = tempfile.mkdtemp(prefix="facet-bench-")
    try:
        src = os.path.join(args.shared, "faces", "videos", "d6.mp4")
        clips = {}
        for seconds in (10, 30):
            clips[seconds] = os.path.join(work, f"clip1080p_{seconds}s.mp4")
            make_clip(src, clips[seconds], seconds)
        cases = [("every frame", 10, 1), ("every 5th frame", 10, 5), ("every frame", 30, 1)]
        rows = []
        for label, seconds, every in cases:
            clip = clips[seconds]
            best = {"facet": (1e9, 0.0), "ffmpeg": (1e9, 0.0)}
            frames = {}
            for _ in range(args.repeat):
                ws = os.path.join(work, "ws")
                shutil.rmtree(ws, ignore_errors=True)
                cmd = [args.bin, "-q", "--workspace", ws, "--every", str(every), "--quality", str(args.quality), clip]
                wall, mib = measured(cmd)
                frames["facet"] = count_files(os.path.join(ws, "Datasets"))
                best["facet"] = min(best["facet"], (wall, mib))
                out = os.path.join(work, "ff")
                shutil.rmtree(out, ignore_errors=True)
                os.makedirs(out)
                cmd = ["ffmpeg", "-v", "error", "-y", "-i", clip]
                if every > 1:
                    cmd += ["-vf", f"select=not(mod(n\\,{every}))", "-vsync", "vfr"]
                cmd += ["-q:v", str(qscale), os.path.join(out, "%06d.jpg")]
                wall, mib = measured(cmd)
                frames["ffmpeg"] = count_files(out)
                best["ffmpeg"] = min(best["ffmpeg"], (wall, mib))
            if frames["facet"] != frames["ffmpeg"]:
                sys.exit(f"frame counts differ: facet {frames['facet']} vs ffmpeg {frames['ffmpeg']}")
            ratio = best["facet"][0] / best["ffmpeg"][0]
            rows.append((f"{label}, {seconds} s 1080p", frames["facet"], best["facet"][0], best["ffmpeg"][0], ratio,
                         best["facet"][1], best["ffmpeg"][1]))
            print(f"{rows[-1][0]}: {frames['facet']} frames  facet {best['facet'][0]:.2f} s  ffmpeg {best['ffmpeg'][0]:.2f} s"
                  f"  ratio {ratio:.3f}  peak RSS facet {best['facet'][1]:.0f} MiB ffmpeg {best['ffmpeg'][1]:.0f} MiB", flush=True)
        ffv = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.splitlines()[0].split(" Copyright")[0]
        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
        with open(args.out, "w") as f:
            f.write("# fetch-frames vs ffmpeg: JPEG extraction from 1080p H.264\n\n")
            f.write(f"Measured {time.strftime('%Y-%m-%d', time.gmtime())} on {os.cpu_count()} cores ({cpu}), {ffv}.\n")
            f.write(f"Same clip, same frames, JPEG at quality {args.quality} (ffmpeg `-q:v {qscale}`); best of {args.repeat} runs each, "
                    "run alternately; fetch-frames starts from an empty workspace every run (catalog, hashing and manifest included).\n"
                    "Peak RSS is the process's maximum resident memory. Target: ratio <= 1.10, memory flat in length, under 300 MB.\n\n")
            f.write("| case | frames | fetch-frames s | ffmpeg s | ratio | fetch-frames peak MiB | ffmpeg peak MiB |\n")
            f.write("|---|---:|---:|---:|---:|---:|---:|\n")
            for r in rows:
                f.write(f"| {r[0]} | {r[1]} | {r[2]:.2f} | {r[3]:.2f} | {r[4]:.3f} | {r[5]:.0f} | {r[6]:.0f} |\n")
            f.write("\nReproduce: `make bench-fetch-frames` (or `benchmarks/fetch-frames/run.sh`).\n")
        print(f"wrote {args.out}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
