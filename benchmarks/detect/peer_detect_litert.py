"""Peer baseline for Facet's `detect`: the same per-frame pipeline run by Google's LiteRT interpreter
(XNNPACK, 2 threads) with numpy and OpenCV, timed stage by stage.

  decode  cv2.VideoCapture.read + BGR->RGB
  detect  BlazeFace full range: letterbox to 192x192 (as Facet: an integer box filter when shrinking 3x or
          more, then bilinear; zero border; [-1,1]), 2304 anchors, decode, sigmoid, min score 0.6, weighted
          NMS at IoU 0.3, back to image pixels
  mesh    FaceMesh twice per face: on MediaPipe's ROI from the detection, then on the ROI from its own
          landmarks (eye corners 33/263 level, bounding box in that rotated frame, square, x1.5);
          rotated crop by cv2.warpAffine (bilinear, replicated border), [0,1], projection back to image px
  points5 dlib's 5-point shape predictor on the detection box (dlib-bin wheel, if importable; else null)
  align   51 stable landmarks (Facet's FaceMesh -> dlib-68 table, 17..67) -> Umeyama similarity onto
          Facet's mean face in a 256x256 "face" crop, cv2.warpAffine bilinear, convex-hull mask
          (cv2.fillConvexPoly), head pose (yaw/pitch/roll) from the mesh
  write   RGB->BGR and cv2.imwrite of the 256x256 crop as PNG into a temporary folder

Usage: python peer_detect_litert.py MODEL_DIR VIDEO [--frames N]
Prints one JSON object: {"frames", "faces", "seconds", "stages": {stage: ms per frame}, "cpuStages": {...}}
(per-frame means over all decoded frames, like Facet's report; "stages" on the wall clock, "cpuStages" the
process's CPU time, XNNPACK's threads included); "seconds" is the wall time of the frame loop (models loaded before).
"""
import argparse, json, math, os, shutil, sys, tempfile, time
import numpy as np
import cv2
from ai_edge_litert.interpreter import Interpreter

try:
    import dlib  # PyPI dlib-bin (prebuilt); optional
except ImportError:
    dlib = None

# FaceMesh vertices standing in for dlib's 68 points (Facet's LandmarkSubsets.dlib68); 17..67 are the 51 stable ones.
DLIB68 = [127, 234, 132, 58, 172, 150, 149, 148, 152, 377, 378, 379, 397, 288, 361, 454, 356,
          70, 63, 105, 65, 55, 285, 295, 334, 293, 300,
          168, 197, 5, 1, 75, 97, 2, 326, 305,
          33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
          61, 39, 37, 0, 267, 269, 291, 321, 314, 17, 84, 91,
          78, 82, 13, 312, 308, 317, 14, 87]
STABLE51 = np.array(DLIB68[17:], dtype=np.intp)
HULL68 = np.array(DLIB68, dtype=np.intp)
# Facet's MeanFace.points51 (unit square), placed into a 256 crop with FaceCentering.face (side 1.6, centre 0.5,0.55).
MEAN51 = np.array([
    (0.000000, 0.111436), (0.054633, 0.062311), (0.137978, 0.035562), (0.257135, 0.086885), (0.386216, 0.127853),
    (0.600354, 0.128114), (0.729681, 0.087148), (0.850691, 0.035881), (0.938704, 0.062302), (1.000000, 0.111520),
    (0.493735, 0.204978), (0.492160, 0.340296), (0.490972, 0.465616), (0.492008, 0.602096), (0.379444, 0.618486),
    (0.428774, 0.653877), (0.496977, 0.655399), (0.566022, 0.653927), (0.615576, 0.618395),
    (0.105537, 0.236622), (0.164854, 0.206202), (0.258190, 0.200902), (0.348697, 0.250921), (0.272821, 0.267337),
    (0.181372, 0.266363), (0.648160, 0.250862), (0.739180, 0.200981), (0.833537, 0.206426), (0.895883, 0.236727),
    (0.817202, 0.266122), (0.724944, 0.267228),
    (0.262121, 0.833123), (0.356795, 0.782464), (0.427948, 0.769594), (0.498759, 0.779224), (0.569732, 0.769458),
    (0.643786, 0.782312), (0.748653, 0.833149), (0.688246, 0.896981), (0.575246, 0.957551), (0.503391, 0.964438),
    (0.431880, 0.957039), (0.320951, 0.896680),
    (0.294164, 0.831038), (0.446060, 0.827045), (0.501283, 0.829936), (0.556974, 0.827124), (0.716125, 0.830908),
    (0.560807, 0.876717), (0.501895, 0.880121), (0.443789, 0.876846)], dtype=np.float64)
CROP = 256
TEMPLATE = (MEAN51 - np.array([0.5, 0.55])) * (CROP / 1.6) + CROP / 2
LATERAL = [(33, 263), (133, 362), (234, 454), (127, 356), (93, 323), (129, 358)]
UPPER_MIDLINE, CHIN = [10, 151, 9], 152

DET, MESH = 192, 192
MIN_SCORE, NMS_IOU = 0.6, 0.3
MIN_LOGIT = math.log(MIN_SCORE / (1 - MIN_SCORE))  # sigmoid(x) >= 0.6  <=>  x >= logit(0.6)


def anchors_full_range():
    """SsdAnchorsCalculator, full range: 1 layer, stride 4, 192 input, fixed size, 1 anchor per cell."""
    fm = math.ceil(DET / 4)
    ys, xs = np.meshgrid((np.arange(fm) + 0.5) / fm, (np.arange(fm) + 0.5) / fm, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)  # y-major, then x


class Net:
    """One interpreter, allocated once; set_tensor/invoke/get_tensor per call."""
    def __init__(self, path):
        self.it = Interpreter(model_path=path, num_threads=2)
        self.it.allocate_tensors()
        self.inp = self.it.get_input_details()[0]["index"]
        self.outs = [o["index"] for o in self.it.get_output_details()]

    def __call__(self, x):
        self.it.set_tensor(self.inp, x)
        self.it.invoke()
        return [self.it.get_tensor(i) for i in self.outs]


class Detector:
    def __init__(self, model_dir):
        self.net = Net(os.path.join(model_dir, "face_detection_full_range.tflite"))
        self.anchors = anchors_full_range()
        self.canvas = np.zeros((DET, DET, 3), np.uint8)
        self.tensor = np.zeros((1, DET, DET, 3), np.float32)
        self.geom = None

    def __call__(self, rgb):
        h, w = rgb.shape[:2]
        if self.geom is None or self.geom[0] != (w, h):
            scale = DET / max(w, h)
            nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
            px, py = (DET - nw) // 2, (DET - nh) // 2
            self.canvas[:] = 0
            # Like Facet: shrinking by 3x or more first box-filters by the integer factor k, then bilinear.
            k = int(math.floor(1 / scale)) if 1 / scale >= 3 else 1
            self.geom = ((w, h), nw, nh, px, py, nw / w, nh / h, k)
        _, nw, nh, px, py, sx, sy, k = self.geom
        src = rgb
        if k > 1:
            hk, wk = h - h % k, w - w % k
            src = cv2.resize(rgb[:hk, :wk], (wk // k, hk // k), interpolation=cv2.INTER_AREA)  # exact k x k means
        self.canvas[py:py + nh, px:px + nw] = cv2.resize(src, (nw, nh), interpolation=cv2.INTER_LINEAR)
        np.multiply(self.canvas, 1 / 127.5, out=self.tensor[0], casting="unsafe")
        self.tensor -= 1.0
        reg, cls = self.net(self.tensor)
        logits = cls.reshape(-1)
        keep = np.nonzero(logits >= MIN_LOGIT)[0]
        if keep.size == 0:
            return []
        r = reg.reshape(-1, 16)[keep].astype(np.float64) / DET
        a = self.anchors[keep]
        score = 1 / (1 + np.exp(-np.clip(logits[keep].astype(np.float64), -100, 100)))
        xc, yc = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
        bw, bh = r[:, 2], r[:, 3]
        kp = r[:, 4:16].reshape(-1, 6, 2) + a[:, None, :]
        # Back from the 192 tensor to image pixels (un-letterbox).
        boxes = np.stack([(xc - bw / 2) * DET - px, (yc - bh / 2) * DET - py, bw * DET, bh * DET], axis=1)
        boxes[:, [0, 2]] /= sx
        boxes[:, [1, 3]] /= sy
        kp = kp * DET - np.array([px, py])
        kp /= np.array([sx, sy])
        return weighted_nms(boxes, kp, score)


def weighted_nms(boxes, kp, score):
    """MediaPipe WEIGHTED NMS: boxes (x, y, w, h) px; output (box, keypoints, top score)."""
    order = np.argsort(-score, kind="stable")
    boxes, kp, score = boxes[order], kp[order], score[order]
    x0, y0 = boxes[:, 0], boxes[:, 1]
    x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
    area = boxes[:, 2] * boxes[:, 3]
    remaining = np.arange(len(score))
    out = []
    while remaining.size:
        t = remaining[0]
        iw = np.clip(np.minimum(x1[t], x1[remaining]) - np.maximum(x0[t], x0[remaining]), 0, None)
        ih = np.clip(np.minimum(y1[t], y1[remaining]) - np.maximum(y0[t], y0[remaining]), 0, None)
        inter = iw * ih
        union = area[t] + area[remaining] - inter
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0)
        group = iou > NMS_IOU
        group[0] = True
        g = remaining[group]
        wts = score[g] / score[g].sum()
        out.append((wts @ boxes[g], np.tensordot(wts, kp[g], axes=1), float(score[t])))
        remaining = remaining[~group]
    return out


class Mesh:
    def __init__(self, model_dir):
        self.net = Net(os.path.join(model_dir, "face_landmark.tflite"))
        self.tensor = np.zeros((1, MESH, MESH, 3), np.float32)

    @staticmethod
    def level(p0, p1):
        r = 0 - math.atan2(-(p1[1] - p0[1]), p1[0] - p0[0])
        return r - 2 * math.pi * math.floor((r + math.pi) / (2 * math.pi))

    @staticmethod
    def roi_from_detection(box, kp):
        rot = Mesh.level(kp[0], kp[1])
        side = max(box[2], box[3]) * 1.5
        return (box[0] + box[2] / 2, box[1] + box[3] / 2, side, rot)

    @staticmethod
    def roi_from_landmarks(pts):
        rot = Mesh.level(pts[33], pts[263])
        c, s = math.cos(rot), math.sin(rot)
        xy = pts[:, :2]
        # Into the rotated frame (undo the rotation), bounding box there, centre back to the image.
        u = xy[:, 0] * c + xy[:, 1] * s
        v = -xy[:, 0] * s + xy[:, 1] * c
        umin, umax, vmin, vmax = u.min(), u.max(), v.min(), v.max()
        cu, cv = (umin + umax) / 2, (vmin + vmax) / 2
        side = max(umax - umin, vmax - vmin) * 1.5
        return (cu * c - cv * s, cu * s + cv * c, side, rot)

    def __call__(self, rgb, roi):
        cx, cy, side, rot = roi
        c, s = math.cos(rot), math.sin(rot)
        n = MESH
        # Output pixel centre (u, v) -> source = centre + R . ((u/n - 0.5) side, (v/n - 0.5) side)  (pixel-centre
        # convention); OpenCV's warpAffine uses integer pixel centres, hence the +-0.5 shifts.
        au, av = (c * side / n, s * side / n), (-s * side / n, c * side / n)
        ox = cx - 0.5 * (c * side - s * side)
        oy = cy - 0.5 * (s * side + c * side)
        m = np.array([[au[0], av[0], ox + 0.5 * au[0] + 0.5 * av[0] - 0.5],
                      [au[1], av[1], oy + 0.5 * au[1] + 0.5 * av[1] - 0.5]])
        crop = cv2.warpAffine(rgb, m, (n, n), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)
        np.multiply(crop, 1 / 255, out=self.tensor[0], casting="unsafe")
        raw, flag = self.net(self.tensor)
        p = raw.reshape(468, 3).astype(np.float64)
        nx, ny = p[:, 0] / n - 0.5, p[:, 1] / n - 0.5
        pts = np.empty((468, 3))
        pts[:, 0] = (c * nx - s * ny) * side + cx
        pts[:, 1] = (s * nx + c * ny) * side + cy
        pts[:, 2] = p[:, 2] / n * side
        presence = 1 / (1 + math.exp(-float(np.clip(flag.reshape(-1)[0], -100, 100))))
        return pts, presence


def umeyama(src, dst):
    """Least-squares similarity src -> dst (2-D), as a 2x3 matrix."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    cov = b.T @ a / len(src)
    u, d, vt = np.linalg.svd(cov)
    sgn = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sgn[1] = -1
    r = u @ np.diag(sgn) @ vt
    scale = (d * sgn).sum() / (a * a).sum() * len(src)
    m = np.empty((2, 3))
    m[:, :2] = scale * r
    m[:, 2] = md - scale * r @ ms
    return m


def head_pose(pts):
    lateral = sum(pts[l] - pts[r] for r, l in LATERAL)
    vertical = pts[CHIN] - pts[UPPER_MIDLINE].mean(0)
    ex = lateral / np.linalg.norm(lateral)
    ez = np.cross(ex, vertical); ez /= np.linalg.norm(ez)
    ey = np.cross(ez, ex); ey /= np.linalg.norm(ey)
    beta = math.asin(max(-1.0, min(1.0, -ex[2])))
    alpha = math.atan2(ey[2], ez[2])
    gamma = math.atan2(ex[1], ex[0])
    return -math.degrees(beta), -math.degrees(alpha), math.degrees(gamma)


def versions(with_dlib):
    from importlib.metadata import version, PackageNotFoundError
    found = {}
    for name in ("ai-edge-litert", "numpy", "opencv-python-headless") + (("dlib-bin",) if with_dlib else ()):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    if with_dlib and not found.get("dlib-bin"):
        found["dlib"] = dlib.__version__
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir"); ap.add_argument("video")
    ap.add_argument("--frames", type=int, default=0, help="stop after N frames (0: all)")
    ap.add_argument("--check", action="store_true", help="also print sanity checks on stderr")
    args = ap.parse_args()
    cv2.setNumThreads(2)

    detector, mesh = Detector(args.model_dir), Mesh(args.model_dir)
    sp_path = os.path.join(args.model_dir, "shape_predictor_5_face_landmarks.dat")
    sp = dlib.shape_predictor(sp_path) if dlib is not None and os.path.exists(sp_path) else None
    mask = np.zeros((CROP, CROP), np.uint8)
    out_dir = tempfile.mkdtemp(prefix="peer_detect_")
    cap = cv2.VideoCapture(args.video)
    if not cap.isOpened():
        sys.exit(f"cannot open {args.video}")

    stages = dict.fromkeys(["decode", "detect", "mesh", "points5", "align", "write"], 0.0)
    cpu_stages = dict.fromkeys(stages, 0.0)  # process CPU time (all threads, XNNPACK's included) per stage
    frames = faces = png_bytes = 0
    checks = {"mesh_in_box": 0, "pose_abs_yaw_sum": 0.0, "presence_min": 1.0, "p5_from_mesh_px": 0.0}
    class Mark:
        """A moment on the wall clock and on the process's CPU clock (all threads)."""
        __slots__ = ("wall", "cpu")
        def __init__(self):
            self.wall, self.cpu = time.perf_counter(), time.process_time()
        def __sub__(self, other):
            return self.wall - other.wall
    def add(stage, a, b):
        stages[stage] += b.wall - a.wall
        cpu_stages[stage] += b.cpu - a.cpu
    clock = Mark
    t_start = clock()
    try:
        while not args.frames or frames < args.frames:
            t0 = clock()
            ok, bgr = cap.read()
            if not ok:
                break
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            t1 = clock(); add("decode", t0, t1)
            dets = detector(rgb)
            t2 = clock(); add("detect", t1, t2)
            frames += 1
            for box, kp, score in dets:
                t2 = clock()
                pts, _ = mesh(rgb, Mesh.roi_from_detection(box, kp))
                pts, presence = mesh(rgb, Mesh.roi_from_landmarks(pts))
                t3 = clock(); add("mesh", t2, t3)
                if presence <= 0.5:
                    continue
                if sp is not None:
                    rect = dlib.rectangle(int(round(box[0])), int(round(box[1])),
                                          int(round(box[0] + box[2])), int(round(box[1] + box[3])))
                    shape = sp(rgb, rect)
                    p5 = [(shape.part(i).x, shape.part(i).y) for i in range(5)]
                    t4 = clock(); add("points5", t3, t4); t3 = t4
                    if args.check:
                        checks["p5_from_mesh_px"] += float(np.mean(np.hypot(*(np.array(p5, float) - pts[[263, 362, 33, 133, 2], :2]).T)))
                m = umeyama(pts[STABLE51, :2], TEMPLATE)  # image px -> crop px, pixel-centre convention
                mcv = m.copy()  # the same map on OpenCV's integer pixel centres
                mcv[:, 2] += m[:, :2].sum(1) * 0.5 - 0.5
                crop = cv2.warpAffine(rgb, mcv, (CROP, CROP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                hull = cv2.convexHull(np.round(pts[HULL68, :2] @ m[:, :2].T + m[:, 2]).astype(np.int32))
                mask[:] = 0
                cv2.fillConvexPoly(mask, hull, 255)
                yaw, pitch, roll = head_pose(pts)
                t4 = clock(); add("align", t3, t4)
                png = os.path.join(out_dir, f"{frames:06d}_{faces % 8}.png")
                cv2.imwrite(png, cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))  # OpenCV's default PNG settings
                t5 = clock(); add("write", t4, t5)
                png_bytes += os.path.getsize(png)
                faces += 1
                if args.check:
                    x0, y0, bw, bh = box
                    inside = np.mean((pts[:, 0] >= x0 - 0.25 * bw) & (pts[:, 0] <= x0 + 1.25 * bw) &
                                     (pts[:, 1] >= y0 - 0.5 * bh) & (pts[:, 1] <= y0 + 1.25 * bh))
                    checks["mesh_in_box"] += inside > 0.99
                    checks["pose_abs_yaw_sum"] += abs(yaw)
                    checks["presence_min"] = min(checks["presence_min"], presence)
                    if frames == 1:
                        print(f"frame 1: box {np.round(box, 1).tolist()} score {score:.3f} eyes {np.round(kp[:2], 1).tolist()} "
                              f"mesh x {pts[:, 0].min():.1f}..{pts[:, 0].max():.1f} y {pts[:, 1].min():.1f}..{pts[:, 1].max():.1f} "
                              f"pose {yaw:.1f},{pitch:.1f},{roll:.1f}", file=sys.stderr)
                        cv2.imwrite(os.path.join(tempfile.gettempdir(), "peer_detect_first_crop.png"),
                                    cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
        seconds = clock() - t_start
    finally:
        cap.release()
        shutil.rmtree(out_dir, ignore_errors=True)

    per = {k: (1000 * v / frames if frames else None) for k, v in stages.items()}
    per_cpu = {k: (1000 * v / frames if frames else None) for k, v in cpu_stages.items()}
    if sp is None:
        per["points5"] = per_cpu["points5"] = None
    report = {"tool": "litert-peer", "frames": frames, "faces": faces, "seconds": seconds,
              "stages": per, "cpuStages": per_cpu,
              "png_bytes_mean": (png_bytes / faces if faces else None), "versions": versions(sp is not None)}
    if args.check and faces:
        print(f"checks: faces {faces}/{frames} frames; mesh inside the (generous) detection box on "
              f"{checks['mesh_in_box']}/{faces}; min presence {checks['presence_min']:.3f}; mean |yaw| "
              f"{checks['pose_abs_yaw_sum'] / faces:.1f} deg"
              + (f"; dlib 5 points vs mesh 263/362/33/133/2 mean {checks['p5_from_mesh_px'] / faces:.2f} px" if sp else ""),
              file=sys.stderr)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
