#!/usr/bin/env python3
"""Peer for benchmarks/watermark: PyPI invisible-watermark (DWT-DCT), the same 32-bit payload frame by frame.

mark IN OUT PAYLOAD   embed every frame, write H.264 CRF 18 (like watermark-bench mark); prints JSON timing
detect FILE PAYLOAD   decode up to --max-frames frames spread over the file, majority-vote each bit; prints JSON
Frames move through the ffmpeg CLI as raw BGR24 (the layout OpenCV and invisible-watermark use).
"""
import importlib.util, json, subprocess, sys, time, types
import numpy as np
if importlib.util.find_spec("torch") is None:
    # The package imports torch at load time for its RivaGAN method only; DWT-DCT never touches it.
    sys.modules["torch"] = types.ModuleType("torch")
from imwatermark import WatermarkEncoder, WatermarkDecoder

def probe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height,r_frame_rate", "-of", "csv=p=0", path], capture_output=True, text=True, check=True).stdout
    w, h, rate = out.strip().split("\n")[0].split(",")[:3]
    return int(w), int(h), rate

def frames(path, w, h):
    proc = subprocess.Popen(["ffmpeg", "-v", "error", "-nostdin", "-i", path, "-f", "rawvideo", "-pix_fmt", "bgr24", "-"], stdout=subprocess.PIPE)
    size = w * h * 3
    while True:
        buf = proc.stdout.read(size)
        if len(buf) < size: break
        yield np.frombuffer(buf, np.uint8).reshape(h, w, 3).copy()
    proc.wait()

def bits(payload):
    v = int(payload, 16)
    return [(v >> (31 - i)) & 1 for i in range(32)]

def mark(src, dst, payload):
    w, h, rate = probe(src)
    enc = WatermarkEncoder(); enc.set_watermark("bits", bits(payload))
    out = subprocess.Popen(["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}", "-r", rate,
                            "-i", "-", "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", dst], stdin=subprocess.PIPE)
    n, spent = 0, 0.0
    for f in frames(src, w, h):
        t0 = time.perf_counter(); m = enc.encode(f, "dwtDct"); spent += time.perf_counter() - t0
        out.stdin.write(np.ascontiguousarray(m).tobytes()); n += 1
    out.stdin.close(); out.wait()
    print(json.dumps({"frames": n, "embedMillisecondsPerFrame": 1000 * spent / max(1, n), "width": w, "height": h}))

def detect(path, payload, max_frames):
    dec = WatermarkDecoder("bits", 32)
    if path.lower().endswith((".jpg", ".jpeg", ".png")):
        import cv2
        images = [cv2.imread(path)]
    else:
        w, h, _ = probe(path)
        images = list(frames(path, w, h))
        if len(images) > max_frames:
            step = len(images) / max_frames
            images = [images[int(i * step)] for i in range(max_frames)]
    votes = np.zeros(32)
    t0 = time.perf_counter()
    for im in images:
        votes += np.array(dec.decode(im, "dwtDct"), dtype=float) * 2 - 1
    read = "".join("1" if v > 0 else "0" for v in votes)
    value = "%08x" % int(read, 2)
    print(json.dumps({"file": path, "payload": value, "right": value == payload.lower(), "framesUsed": len(images),
                      "seconds": time.perf_counter() - t0}))

if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "mark": mark(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "detect":
        for f in sys.argv[3:]:
            try: detect(f, sys.argv[2], 60)
            except (RuntimeError, ValueError) as e:  # DWT-DCT refuses frames under 256x256; a file with no frames
                print(json.dumps({"file": f, "payload": None, "right": False, "framesUsed": 0, "seconds": 0, "error": str(e)}))
