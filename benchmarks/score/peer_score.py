#!/usr/bin/env python3
"""The Python peer of `score`: the same per-face swap metrics computed the way papers and common scripts do,
with OpenCV + numpy + dlib's Python binding, over the faces of a facet.swap manifest.

Per swapped face: re-detect in a square of 2.2 box sizes around the manifest box with dlib's HOG detector
(upsampled once), dlib's 5 points, dlib's ResNet descriptor of the output face against the enrolled references
(nearest reference, read from the workspace catalog), head pose by cv2.solvePnP of the 5 points on a generic 3-D
face (the usual OpenCV recipe; FaceShifter/SimSwap use a pose network instead), flicker (mean |Δ gray| in the
box), seam (Sobel magnitude on the mask outline vs 3-6 px inside/outside, via distance transforms), skin colour
CIEDE2000 (cv2 Lab of the shrunk hull) and bystander change. Expression error is not computed: papers fit a
3DMM, and no 3DMM ships in a registry package. Prints one JSON object: faces, seconds, faces_per_second and
the per-metric means.
"""
import argparse, json, math, os, sqlite3, sys, time

import cv2
import dlib
import numpy as np

# Generic 3-D positions (mm) of dlib's 5 points: right-eye outer/inner (image left), left-eye outer/inner, nose base.
MODEL_5 = np.array([[-45.0, -35.0, -25.0], [-15.0, -33.0, -20.0], [45.0, -35.0, -25.0], [15.0, -33.0, -20.0], [0.0, 25.0, -5.0]])


def ciede2000(lab1, lab2):
    L1, a1, b1 = lab1
    L2, a2, b2 = lab2
    C1, C2 = math.hypot(a1, b1), math.hypot(a2, b2)
    Cb7 = ((C1 + C2) / 2) ** 7
    G = 0.5 * (1 - math.sqrt(Cb7 / (Cb7 + 25 ** 7)))
    a1p, a2p = (1 + G) * a1, (1 + G) * a2
    C1p, C2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360 if (a1p or b1) else 0.0
    h2p = math.degrees(math.atan2(b2, a2p)) % 360 if (a2p or b2) else 0.0
    dLp, dCp = L2 - L1, C2p - C1p
    dhp = 0.0
    if C1p * C2p:
        dhp = h2p - h1p
        dhp = dhp - 360 if dhp > 180 else dhp + 360 if dhp < -180 else dhp
    dHp = 2 * math.sqrt(C1p * C2p) * math.sin(math.radians(dhp / 2))
    Lbp, Cbp = (L1 + L2) / 2, (C1p + C2p) / 2
    hbp = h1p + h2p
    if C1p * C2p:
        hbp = hbp / 2 if abs(h1p - h2p) <= 180 else (hbp + 360) / 2 if hbp < 360 else (hbp - 360) / 2
    T = (1 - 0.17 * math.cos(math.radians(hbp - 30)) + 0.24 * math.cos(math.radians(2 * hbp))
         + 0.32 * math.cos(math.radians(3 * hbp + 6)) - 0.20 * math.cos(math.radians(4 * hbp - 63)))
    dth = 30 * math.exp(-((hbp - 275) / 25) ** 2)
    Rc = 2 * math.sqrt(Cbp ** 7 / (Cbp ** 7 + 25 ** 7))
    Sl = 1 + 0.015 * (Lbp - 50) ** 2 / math.sqrt(20 + (Lbp - 50) ** 2)
    Sc, Sh = 1 + 0.045 * Cbp, 1 + 0.015 * Cbp * T
    Rt = -math.sin(math.radians(2 * dth)) * Rc
    return math.sqrt((dLp / Sl) ** 2 + (dCp / Sc) ** 2 + (dHp / Sh) ** 2 + Rt * (dCp / Sc) * (dHp / Sh))


class Peer:
    def __init__(self, models, catalog):
        self.detector = dlib.get_frontal_face_detector()
        self.sp = dlib.shape_predictor(os.path.join(models, "shape_predictor_5_face_landmarks.dat"))
        self.rec = dlib.face_recognition_model_v1(os.path.join(models, "dlib_face_recognition_resnet_model_v1.dat"))
        db = sqlite3.connect(catalog)
        rows = db.execute("SELECT i.name, r.embedding FROM identity_references r JOIN identities i ON i.id = r.identity_id").fetchall()
        self.names = [r[0] for r in rows]
        self.refs = np.array([np.frombuffer(r[1], dtype="<f4") for r in rows]) if rows else np.zeros((0, 128))

    def read(self, rgb, x0, y0, centre, size, describe):
        dets = self.detector(rgb, 1)
        best = None
        for d in dets:
            c = np.array([(d.left() + d.right()) / 2 + x0, (d.top() + d.bottom()) / 2 + y0])
            dist = np.linalg.norm(c - centre)
            if dist <= 0.5 * size and (best is None or dist < best[1]):
                best = (d, dist)
        if best is None:
            return None
        shape = self.sp(rgb, best[0])
        pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
        h, w = rgb.shape[:2]
        cam = np.array([[w, 0, w / 2], [0, w, h / 2], [0, 0, 1]], dtype=np.float64)
        ok, rvec, _ = cv2.solvePnP(MODEL_5, pts, cam, None, flags=cv2.SOLVEPNP_EPNP)
        angles = None
        if ok:
            R, _ = cv2.Rodrigues(rvec)
            angles = np.degrees([math.atan2(-R[2, 0], math.hypot(R[2, 1], R[2, 2])), math.atan2(R[2, 1], R[2, 2]), math.atan2(R[1, 0], R[0, 0])])
        desc = np.array(self.rec.compute_face_descriptor(rgb, shape)) if describe else None
        return angles, desc


def seam_ratio(gray, poly):
    h, w = gray.shape
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
    inside = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    outside = cv2.distanceTransform(1 - mask, cv2.DIST_L2, 3)
    d = np.where(mask > 0, inside, outside)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3) / 8
    g = np.sqrt(gx * gx + gy * gy)
    border, band = d <= 1.5, (d >= 3) & (d <= 6)
    if not border.any() or not band.any() or g[band].mean() == 0:
        return None
    return g[border].mean() / g[band].mean()


def skin_lab(rgb, poly):
    c = poly.mean(axis=0)
    inner = c + (poly - c) * 0.85
    mask = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(inner).astype(np.int32)], 1)
    if not mask.any():
        return None
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    return lab[mask > 0].mean(axis=0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--catalog", required=True)
    ap.add_argument("--models", required=True)
    args = ap.parse_args()
    start = time.time()
    peer = Peer(args.models, args.catalog)
    manifest = json.load(open(args.manifest))
    base = os.path.dirname(os.path.abspath(args.manifest))
    decoder = manifest["model"]["decoderIdentity"]
    values = {k: [] for k in ["id_retrieval", "detected", "id_distance_decoder", "pose_error", "flicker", "seam", "colour_de00", "bystander_change"]}
    swapped = 0
    for output in manifest["outputs"]:
        frames = {f["index"]: f for f in output["frames"]}
        src = cv2.VideoCapture(os.path.join(base, output["source"]["path"]))
        out = cv2.VideoCapture(os.path.join(base, output["output"]))
        i, prev = 0, None
        while True:
            ok1, s_bgr = src.read()
            ok2, o_bgr = out.read()
            if not ok1 or not ok2:
                break
            s_rgb, o_rgb = cv2.cvtColor(s_bgr, cv2.COLOR_BGR2RGB), cv2.cvtColor(o_bgr, cv2.COLOR_BGR2RGB)
            s_gray, o_gray = cv2.cvtColor(s_rgb, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.cvtColor(o_rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
            h, w = s_gray.shape
            tracks = set()
            for face in frames.get(i, {"faces": []})["faces"]:
                b = face["box"]
                x0, y0 = max(0, int(round(b["x"]))), max(0, int(round(b["y"])))
                x1, y1 = min(w, int(round(b["x"] + b["width"]))), min(h, int(round(b["y"] + b["height"])))
                if not face["swapped"]:
                    values["bystander_change"].append(float(np.abs(o_rgb[y0:y1, x0:x1].astype(np.int16) - s_rgb[y0:y1, x0:x1]).mean()))
                    continue
                swapped += 1
                tracks.add(face["track"])
                if prev is not None and face["track"] in prev[2]:
                    do = np.abs(o_gray[y0:y1, x0:x1] - prev[1][y0:y1, x0:x1]).mean()
                    ds = np.abs(s_gray[y0:y1, x0:x1] - prev[0][y0:y1, x0:x1]).mean()
                    if ds > 0:
                        values["flicker"].append(do / ds)
                if face.get("maskHull"):
                    poly = np.array(face["maskHull"], dtype=np.float64).reshape(-1, 2)
                    ro, rs = seam_ratio(o_gray, poly), seam_ratio(s_gray, poly)
                    if ro and rs:
                        values["seam"].append(ro / rs)
                    lo, ls = skin_lab(o_rgb, poly), skin_lab(s_rgb, poly)
                    if lo is not None and ls is not None:
                        values["colour_de00"].append(ciede2000(lo, ls))
                side = max(b["width"], b["height"]) * 2.2
                cx, cy = b["x"] + b["width"] / 2, b["y"] + b["height"] / 2
                rx0, ry0 = max(0, int(round(cx - side / 2))), max(0, int(round(cy - side / 2)))
                rx1, ry1 = min(w, int(round(cx + side / 2))), min(h, int(round(cy + side / 2)))
                centre = np.array([cx, cy])
                rs_ = peer.read(np.ascontiguousarray(s_rgb[ry0:ry1, rx0:rx1]), rx0, ry0, centre, max(b["width"], b["height"]), False)
                ro_ = peer.read(np.ascontiguousarray(o_rgb[ry0:ry1, rx0:rx1]), rx0, ry0, centre, max(b["width"], b["height"]), len(peer.refs) > 0)
                values["detected"].append(1.0 if ro_ else 0.0)
                if ro_ and rs_ and ro_[0] is not None and rs_[0] is not None:
                    d = ro_[0] - rs_[0]
                    values["pose_error"].append(float(np.sqrt((d * d).sum())))
                if ro_ and ro_[1] is not None:
                    dist = np.linalg.norm(peer.refs - ro_[1], axis=1)
                    nearest = peer.names[int(dist.argmin())]
                    values["id_retrieval"].append(1.0 if nearest.lower() == decoder.lower() else 0.0)
                    mine = [dd for dd, n in zip(dist, peer.names) if n.lower() == decoder.lower()]
                    if mine:
                        values["id_distance_decoder"].append(float(min(mine)))
                elif len(peer.refs):
                    values["id_retrieval"].append(0.0)
            prev = (s_gray, o_gray, tracks)
            i += 1
    seconds = time.time() - start
    print(json.dumps({"faces": swapped, "seconds": seconds, "faces_per_second": swapped / seconds if seconds else 0,
                      "means": {k: (float(np.mean(v)) if v else None) for k, v in values.items()},
                      "counts": {k: len(v) for k, v in values.items()}}))


if __name__ == "__main__":
    main()
