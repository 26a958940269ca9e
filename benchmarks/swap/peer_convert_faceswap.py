"""Peer: converting a video the way faceswap's `convert` does, given an alignments file, with the same trained
weights as Facet's `swap`, in Keras 3 on TensorFlow CPU and OpenCV.

Per frame (decoded by an `ffmpeg` pipe, BGR): every listed face is cut out at the model's framing with
cv2.warpAffine, the faces of up to 8 frames (16 faces) go through the shared encoder and the chosen decoder
in one batch (`predict_on_batch`), then per face: Reinhard colour transfer in L*a*b* inside the landmark-hull
mask (cv2.cvtColor), the hull mask eroded and Gaussian-blurred (sizes as fractions of the face size, as
swap's --erosion 0.02 and --feather 0.08), the face and its mask warped back onto a frame-sized canvas
(cv2.warpAffine, WARP_INVERSE_MAP, BORDER_TRANSPARENT) and blended over the whole frame in float32, as
faceswap's converter patches images; frames go to an `ffmpeg` pipe encoding H.264 with the same settings as
swap (libx264, yuv420p, the given crf and preset), audio copied.

The model: the DeepFakes autoencoder (as benchmarks/train's Keras peer builds it: conv 5x5 stride 2
LeakyReLU 0.1, dense, dense, reshape, upscale = conv 3x3 to 4f + LeakyReLU 0.1 + depth_to_space 2; decoder
ending in a 5x5 sigmoid conv), every width divided by the model's width divisor, weights loaded by name from
Facet's model.safetensors (kernels HWIO, dense [in, out], NHWC flatten: Keras' own layouts).

Usage: python peer_convert_faceswap.py MODEL.json ALIGNMENTS.json INPUT.mp4 OUTPUT.mp4 [--decoder B]
       [--crf 18] [--preset veryfast] [--batch 16]
Prints one JSON line: frames, faces, seconds (wall, whole run), loadSeconds (imports, model build and warm-up), convertSeconds and
per-stage seconds (decode wait, sample, inference, colour, mask, composite, encode wait).
"""
import argparse
import json
import os
import subprocess
import sys
import time

_STARTED = time.perf_counter()  # before TensorFlow's import, which is part of a converter's start-up
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import cv2  # noqa: E402
import numpy as np  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402

import keras  # noqa: E402
from keras import layers  # noqa: E402
import tensorflow as tf  # noqa: E402


def build(weights, input_size, divisor, side, out_channels):
    """Encoder + the side's decoder, with Facet's parameter names, weights set from `weights`."""
    named = []

    def conv(x, name, filters, k, stride, act):
        layer = layers.Conv2D(filters, k, strides=stride, padding="same", name=name)
        named.append((layer, name))
        y = layer(x)
        return layers.LeakyReLU(0.1)(y) if act == "leaky" else layers.Activation("sigmoid")(y)

    def upscale(x, name, filters):
        x = conv(x, name + ".conv", filters * 4, 3, 1, "leaky")
        return layers.Lambda(lambda t: tf.nn.depth_to_space(t, 2))(x)

    w = lambda f: f // divisor  # noqa: E731
    s = input_size // 16
    i = keras.Input((input_size, input_size, 3))
    x = i
    for n, f in enumerate([128, 256, 512, 1024]):
        x = conv(x, "encoder.conv%d" % (n + 1), w(f), 5, 2, "leaky")
    x = layers.Flatten()(x)
    d1 = layers.Dense(w(1024), name="encoder.dense1"); named.append((d1, "encoder.dense1"))
    d2 = layers.Dense(s * s * w(1024), name="encoder.dense2"); named.append((d2, "encoder.dense2"))
    x = layers.Reshape((s, s, w(1024)))(d2(d1(x)))
    x = upscale(x, "encoder.upscale", w(512))
    dec = "decoder" + side
    for n, f in enumerate([256, 128, 64]):
        x = upscale(x, "%s.upscale%d" % (dec, n + 1), w(f))
    x = conv(x, dec + ".output", out_channels, 5, 1, "sigmoid")
    model = keras.Model(i, x)
    for layer, name in named:
        kernel, bias = weights[name + ".kernel"], weights[name + ".bias"]
        layer.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return model


class Stages:
    def __init__(self):
        self.t = {k: 0.0 for k in ("decode", "sample", "inference", "colour", "mask", "composite", "encode")}

    def add(self, key, start):
        now = time.perf_counter()
        self.t[key] += now - start
        return now


def reinhard(face, original, mask):
    """Face (S,S,3 float32 BGR 0..1) moved to the original's L*a*b* means and deviations inside mask > 0.5."""
    inside = mask > 0.5
    if inside.sum() < 16:
        return face
    lab_f = cv2.cvtColor(face, cv2.COLOR_BGR2LAB)
    lab_o = cv2.cvtColor(original, cv2.COLOR_BGR2LAB)
    mf, sf = lab_f[inside].mean(0), lab_f[inside].std(0)
    mo, so = lab_o[inside].mean(0), lab_o[inside].std(0)
    lab_f = (lab_f - mf) * (so / np.maximum(sf, 1e-6)) + mo
    return np.clip(cv2.cvtColor(lab_f.astype(np.float32), cv2.COLOR_LAB2BGR), 0, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("alignments")
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--decoder", default="B")
    ap.add_argument("--crf", default="18")
    ap.add_argument("--preset", default="veryfast")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--erosion", type=float, default=0.02)
    ap.add_argument("--feather", type=float, default=0.08)
    args = ap.parse_args()
    started = _STARTED

    with open(args.model) as f:
        manifest = json.load(f)
    arch = manifest["architecture"]
    S, divisor, mask_head = arch["inputSize"], arch["widthDivisor"], arch.get("maskHead", False)
    weights = load_file(os.path.join(os.path.dirname(args.model), manifest["weights"]["path"]))
    net = build(weights, S, divisor, args.decoder, 4 if mask_head else 3)
    net.predict_on_batch(np.zeros((1, S, S, 3), np.float32))  # graph build, as a converter's warm-up
    load_seconds = time.perf_counter() - started
    with open(args.alignments) as f:
        al = json.load(f)
    W, H, crop, coverage = al["width"], al["height"], al["cropSize"], al["coverage"]
    k, o = S / (coverage * crop), crop * (1 - coverage) / 2
    rate = al.get("frameRate") or 30

    dec = subprocess.Popen(["ffmpeg", "-v", "error", "-i", args.input, "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "bgr24", "-"],
                           stdout=subprocess.PIPE, bufsize=W * H * 3 * 4)
    enc = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", "%dx%d" % (W, H),
                            "-r", "%.6f" % rate, "-i", "-", "-i", args.input, "-map", "0:v", "-map", "1:a?", "-c:v", "libx264",
                            "-crf", args.crf, "-preset", args.preset, "-pix_fmt", "yuv420p", "-c:a", "copy",
                            "-metadata", "comment=SYNTHETIC MEDIA: faces replaced (benchmark peer)", args.output],
                           stdin=subprocess.PIPE)
    st = Stages()
    frames = faces = 0
    pending = []  # (frame, [(face entry, model matrix, cut-out)])

    def flush():
        nonlocal faces
        jobs = [(fi, j) for fi, (_, items) in enumerate(pending) for j in range(len(items))]
        if jobs:
            t = time.perf_counter()
            batch = np.stack([pending[fi][1][j][2] for fi, j in jobs])[..., ::-1]  # BGR -> RGB for the model
            out = np.asarray(net.predict_on_batch(np.ascontiguousarray(batch)))
            st.add("inference", t)
            rgb = out[..., :3][..., ::-1]
            by_frame = {}
            for (fi, j), face in zip(jobs, rgb):
                entry, m, cut = pending[fi][1][j]
                t = time.perf_counter()
                hull = np.array([[m[0][0] * x + m[0][1] * y + m[0][2], m[1][0] * x + m[1][1] * y + m[1][2]]
                                 for x, y in entry["hull"]], np.float32)
                mask = np.zeros((S, S), np.float32)
                cv2.fillConvexPoly(mask, np.round(hull * 16).astype(np.int32), 1.0, cv2.LINE_AA, 4)
                t = st.add("mask", t)
                face = reinhard(np.ascontiguousarray(face, dtype=np.float32), cut, mask)
                t = st.add("colour", t)
                px = np.sqrt(abs(np.linalg.det(m[:, :2])))  # model px per frame px
                erode = int(round(args.erosion * entry["faceSize"] * px))
                if erode > 0:
                    mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode + 1, 2 * erode + 1)))
                sigma = max(args.feather * entry["faceSize"] * px / 2, 0.5)
                mask = cv2.GaussianBlur(mask, (0, 0), sigma)
                st.add("mask", t)
                by_frame.setdefault(fi, []).append((face, mask, m))
                faces += 1
            t = time.perf_counter()
            for fi, items in by_frame.items():
                frame = pending[fi][0]
                canvas = np.zeros((H, W, 4), np.float32)
                for face, mask, m in items:
                    patch = np.dstack([face * 255, mask])
                    px = np.sqrt(abs(np.linalg.det(m[:, :2])))
                    interp = cv2.INTER_AREA if px > 1 else cv2.INTER_CUBIC
                    cv2.warpAffine(patch, m, (W, H), canvas, flags=cv2.WARP_INVERSE_MAP | interp, borderMode=cv2.BORDER_TRANSPARENT)
                alpha = np.clip(canvas[..., 3:4], 0, 1)
                blended = frame.astype(np.float32) * (1 - alpha) + canvas[..., :3] * alpha
                pending[fi] = (np.clip(np.rint(blended), 0, 255).astype(np.uint8), pending[fi][1])
            st.add("composite", t)
        t = time.perf_counter()
        for frame, _ in pending:
            enc.stdin.write(frame.tobytes())
        st.add("encode", t)
        pending.clear()

    size = W * H * 3
    while True:
        t = time.perf_counter()
        raw = dec.stdout.read(size)
        st.add("decode", t)
        if len(raw) < size:
            break
        frame = np.frombuffer(raw, np.uint8).reshape(H, W, 3)
        items = []
        t = time.perf_counter()
        for entry in al["faces"].get(str(frames), []):
            a, b, tx, c, d, ty = entry["matrix"]
            m = np.array([[k * a, k * b, k * (tx - o)], [k * c, k * d, k * (ty - o)]], np.float64)
            px = np.sqrt(abs(a * d - b * c)) * k
            interp = cv2.INTER_AREA if px < 1 else cv2.INTER_LINEAR
            cut = cv2.warpAffine(frame, m, (S, S), flags=interp, borderMode=cv2.BORDER_REPLICATE).astype(np.float32) / 255
            items.append((entry, m, cut))
        st.add("sample", t)
        pending.append((frame, items))
        frames += 1
        if sum(len(i) for _, i in pending) >= args.batch or len(pending) >= 8:
            flush()
    flush()
    t = time.perf_counter()
    enc.stdin.close()
    enc.wait()
    dec.wait()
    st.add("encode", t)
    seconds = time.perf_counter() - started
    convert = sum(st.t[k] for k in ("sample", "inference", "colour", "mask", "composite"))
    print(json.dumps({"peer": "faceswap-style (keras %s, tensorflow %s, opencv %s)" % (keras.__version__, tf.__version__, cv2.__version__),
                      "frames": frames, "faces": faces, "seconds": seconds, "loadSeconds": load_seconds, "convertSeconds": convert,
                      "stages": st.t, "encoderExit": enc.returncode}))
    return 0 if enc.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
