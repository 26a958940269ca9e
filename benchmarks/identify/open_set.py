"""Open-set identification protocol on ../shared/faces/lfw-open (96 people with 10-19 photos, 400 strangers).

The people and strangers are split once, by position in name order, into a development part (every third
person and every third stranger: 32 people, 134 strangers) and a test part (the other 64 people and 266
strangers). Decision rules are designed and their constants chosen on the development part only
(`tune`); the table is measured on the test part only (`score`), never on anything a constant was chosen on.

A test split (seed s) enrols 48 of the 64 test people, chosen at random with seed s, from their first K photos
by file name (as a user would: not the best photos; `--pick largest` as a new user would type it). The
enrolled people's other photos must be named correctly; the 16 people not enrolled (all their photos) and the
266 strangers must not be named at all. Of each probe photo the face nearest the image centre is scored (LFW
centres its subject; bystanders are nobody we know the name of).

Ground truth is LFW's folder names, corrected by `LABEL_ERRATA`: photos whose folder names the wrong person
(checked by eye against the person's other photos). A corrected photo is a probe of the person it shows (or a
stranger when that person is not enrolled).

Usage (after `swift build -c release`):
  python3 benchmarks/identify/open_set.py prepare --bin .build/release --work /tmp/facet-open-set
  python3 benchmarks/identify/open_set.py tune    --work /tmp/facet-open-set          # dev part, numpy replay
  python3 benchmarks/identify/open_set.py score   --bin .build/release --work /tmp/facet-open-set --out benchmarks/identify/OPEN_SET.md

`prepare` runs the real tools once: `identify-bench` (the descriptor of every face of every person's photo as
`identify enroll` computes it, and per part the same with 16 jittered chips for `explore.py`) and `detect` on all photos plus one `identify label` to fill the catalog's
descriptor cache (descriptors from detect's crops, as `identify label` computes them). `score` runs the real
`identify enroll` and `identify label` per split in a fresh workspace sharing that cache.
"""
import argparse, json, os, random, shutil, sqlite3, subprocess, sys, struct
from collections import defaultdict

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "faces", "lfw-open"))


# ---------------------------------------------------------------- the protocol

# LFW photos filed under the wrong person. Michael_Schumacher_0008.jpg shows Rubens Barrichello (his Ferrari
# team-mate, on a podium in Bridgestone cap; the same face as Rubens_Barrichello_0001-0003): every rule names it
# Barrichello at 0.37, which the folder name would count as "wrong person".
LABEL_ERRATA = {"Michael_Schumacher_0008.jpg": "Rubens_Barrichello"}


def truth_of(photo, name, enrolled):
    """The person a probe photo shows if enrolled, else None (a stranger to this gallery)."""
    name = LABEL_ERRATA.get(os.path.basename(photo), name)
    return name if name in enrolled else None


def dataset(root=SHARED):
    people = {}
    for p in sorted(os.listdir(os.path.join(root, "people"))):
        d = os.path.join(root, "people", p)
        people[p] = sorted(os.path.join(d, f) for f in os.listdir(d) if f.lower().endswith((".jpg", ".png")))
    s = os.path.join(root, "strangers")
    strangers = sorted(os.path.join(s, f) for f in os.listdir(s) if f.lower().endswith((".jpg", ".png")))
    return people, strangers


def parts(people, strangers):
    names = sorted(people)
    dev = [n for i, n in enumerate(names) if i % 3 == 0]
    test = [n for i, n in enumerate(names) if i % 3 != 0]
    return {"dev": (dev, [s for i, s in enumerate(strangers) if i % 3 == 0]),
            "test": (test, [s for i, s in enumerate(strangers) if i % 3 != 0])}


def split(people, names, strangers, seed, k, enrolled_fraction=0.75):
    """Enrolled people with their first k photos, and probes (photo, true name or None)."""
    order = sorted(names)
    random.Random(seed).shuffle(order)
    n = int(round(len(order) * enrolled_fraction))
    enrolled = sorted(order[:n])
    refs = {p: people[p][:k] for p in enrolled}
    probes = [(f, truth_of(f, p, refs)) for p in enrolled for f in people[p][k:]]
    probes += [(f, truth_of(f, None, refs)) for p in sorted(order[n:]) for f in people[p]]
    probes += [(f, None) for f in strangers]
    return refs, probes


def central(faces, width=250, height=250):
    """Index of the face nearest the image centre (None for no face)."""
    best, bd = None, 1e18
    for i, f in enumerate(faces):
        x, y, w, h = f["box"]
        d = (x + w / 2 - width / 2) ** 2 + (y + h / 2 - height / 2) ** 2
        if d < bd:
            best, bd = i, d
    return best


def score(decisions, probes):
    """decisions: photo -> name or None. Returns the table's figures."""
    named = correct = wrong = strangers_named = known = strangers = 0
    for photo, truth in probes:
        got = decisions.get(photo)
        if truth is None:
            strangers += 1
            if got is not None:
                strangers_named += 1; named += 1
        else:
            known += 1
            if got is not None:
                named += 1
                if got == truth: correct += 1
                else: wrong += 1
    return {"precision": correct / named if named else 1.0, "recall": correct / known if known else 0.0,
            "wrong": wrong, "strangers": strangers_named, "of_strangers": strangers, "known": known, "correct": correct}


# ---------------------------------------------------------------- cache (prepare)

def run(cmd, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def prepare(args):
    people, strangers = dataset()
    os.makedirs(args.work, exist_ok=True)
    enrol = os.path.join(args.work, "enrol.jsonl")
    if not os.path.exists(enrol):
        print("prepare: identify-bench over the people's and strangers' photos", file=sys.stderr)
        run([os.path.join(args.bin, "identify-bench"), "--mirror", "--output", enrol, SHARED])
    # Jittered descriptors (dlib's num_jitters idea, 16 seeded jitters a face) per part, for explore.py.
    for part, (names, strs) in parts(people, strangers).items():
        out = os.path.join(args.work, f"jitter-{part}.jsonl")
        if not os.path.exists(out):
            print(f"prepare: identify-bench --jitter 16 over the {part} part", file=sys.stderr)
            files = [f for n in names for f in people[n]] + strs
            run([os.path.join(args.bin, "identify-bench"), "--jitter", "16", "--seed", "1", "--output", out] + files)
    # Descriptors of ../shared/faces/identities (10 people outside lfw-open), for explore.py's whitening.
    identities = os.path.join(args.work, "identities.jsonl")
    if not os.path.exists(identities):
        run([os.path.join(args.bin, "identify-bench"), "--output", identities, os.path.join(SHARED, "..", "identities")])
    ws = os.path.join(args.work, "base")
    flat = os.path.join(args.work, "all")
    os.makedirs(flat, exist_ok=True)
    for f in [f for p in people.values() for f in p] + strangers:
        link = os.path.join(flat, os.path.basename(f))
        if not os.path.lexists(link):
            os.symlink(f, link)
    print("prepare: detect over all photos", file=sys.stderr)
    det = json.loads(run([os.path.join(args.bin, "detect"), "--workspace", ws, "--json", "-q", flat]).stdout)
    manifest = det["manifest"]
    # One label run fills the catalog's descriptor cache; the throw-away identity is removed again.
    ident = os.path.join(args.bin, "identify")
    first = people[sorted(people)[0]][0]
    run([ident, "enroll", "--workspace", ws, "-q", "--name", "cache-warmer", "--pick", "largest", "--force", first])
    run([ident, "label", "--workspace", ws, "-q", "--labels", os.path.join(args.work, "warm-labels.json"), manifest])
    run([ident, "remove", "--workspace", ws, "-q", "cache-warmer"])
    with open(os.path.join(args.work, "faces-manifest.txt"), "w") as f:
        f.write(manifest)
    print(f"prepare: faces manifest {manifest}", file=sys.stderr)


def load_cache(work):
    """enrol: photo -> [face{box,size,descriptor}] (whole-image chips, as enrol computes them; every photo);
    probe: photo -> [face{box,size,descriptor,id}] (detect's crops, as label computes them)."""
    enrol = {}
    with open(os.path.join(work, "enrol.jsonl")) as f:
        for line in f:
            row = json.loads(line)
            for face in row["faces"]:
                face["descriptor"] = np.array(face["descriptor"], dtype=np.float64)
            enrol[os.path.realpath(row["path"])] = row["faces"]
    manifest_path = open(os.path.join(work, "faces-manifest.txt")).read().strip()
    manifest = json.load(open(manifest_path))
    db = sqlite3.connect(os.path.join(work, "base", "catalog.sqlite"))
    labels = json.load(open(os.path.join(work, "warm-labels.json")))
    sha = {r[0]: r[1] for r in db.execute("SELECT face_id, crop_sha256 FROM face_labels")}
    vec = {r[0]: np.frombuffer(r[1], dtype="<f4").astype(np.float64) for r in db.execute("SELECT crop_sha256, embedding FROM face_embeddings")}
    inputs = manifest["inputs"]
    base = os.path.dirname(manifest_path)
    probe = defaultdict(list)
    for item in manifest["items"]:
        src = os.path.realpath(os.path.join(base, item.get("frame") or inputs[item["input"]]["path"]))
        b = item["box"]
        probe[src].append({"box": [b["x"], b["y"], b["width"], b["height"]], "size": item["faceSize"], "id": item["id"],
                           "descriptor": vec[sha[item["id"]]]})
    del labels
    return enrol, dict(probe), manifest_path


# ---------------------------------------------------------------- score (the real tools)

def enrol_as_user(ident, ws, name, photos):
    """`identify enroll --pick largest`; a refused file (named in the error) is left out and the rest retried,
    as a user would. Returns the files left out."""
    left_out = []
    photos = list(photos)
    while photos:
        r = run([ident, "enroll", "--workspace", ws, "--json", "-q", "--name", name, "--pick", "largest"] + photos, check=False)
        if r.returncode == 0:
            return left_out
        bad = next((p for p in photos if p in r.stderr), None)
        if r.returncode != 65 or bad is None:
            raise SystemExit(f"enroll {name}: exit {r.returncode}: {r.stderr.strip()}")
        left_out.append(bad)
        photos.remove(bad)
    return left_out


def label_decisions(ident, ws, manifest_path, central_ids, extra, out):
    run([ident, "label", "--workspace", ws, "-q", "--labels", out, manifest_path] + extra)
    labels = json.load(open(out))
    by_id = {item["faceId"]: item.get("identity") for item in labels["items"]}
    return {photo: by_id.get(fid) for photo, fid in central_ids.items()}


def score_command(args):
    people, strangers = dataset()
    names, strs = parts(people, strangers)["test"]
    ident = os.path.join(args.bin, "identify")
    manifest_path = open(os.path.join(args.work, "faces-manifest.txt")).read().strip()
    manifest = json.load(open(manifest_path))
    base = os.path.dirname(manifest_path)
    faces = defaultdict(list)
    for item in manifest["items"]:
        b = item["box"]
        faces[os.path.realpath(os.path.join(base, item["frame"]))].append({"box": [b["x"], b["y"], b["width"], b["height"]], "id": item["id"]})
    central_ids = {}
    rows = []
    for seed in range(1, args.seeds + 1):
        refs, probes = split(people, names, strs, seed, args.k)
        for photo, _ in probes:
            f = faces.get(os.path.realpath(photo), [])
            i = central(f)
            if i is not None:
                central_ids[photo] = f[i]["id"]
        ws = os.path.join(args.work, f"split-{seed}")
        shutil.rmtree(ws, ignore_errors=True)
        os.makedirs(ws)
        shutil.copy(os.path.join(args.work, "base", "catalog.sqlite"), os.path.join(ws, "catalog.sqlite"))
        left_out = 0
        for name in sorted(refs):
            left_out += len(enrol_as_user(ident, ws, name, refs[name]))
        mine = {p: central_ids.get(p) for p, _ in probes if p in central_ids}
        calibrated = score(label_decisions(ident, ws, manifest_path, mine, [], os.path.join(ws, "labels-calibrated.json")), probes)
        dlib = score(label_decisions(ident, ws, manifest_path, mine, ["--rule", "nearest", "--threshold", "0.6"],
                                     os.path.join(ws, "labels-dlib.json")), probes)
        rows.append((seed, len(refs), left_out, calibrated, dlib))
        print(f"split {seed}: {len(refs)} enrolled, {left_out} references refused; calibrated {calibrated}; dlib 0.6 {dlib}", file=sys.stderr)
    write_table(args, rows)


def write_table(args, rows):
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    def total(i):
        t = defaultdict(int)
        for r in rows:
            for k in ("correct", "known", "wrong", "strangers", "of_strangers"):
                t[k] += r[i][k]
        named = t["correct"] + t["wrong"] + t["strangers"]
        t["precision"] = t["correct"] / named if named else 1.0
        t["recall"] = t["correct"] / t["known"]
        return t
    c, d = total(3), total(4)
    with open(args.out, "w") as f:
        f.write("# identify: open-set identification on lfw-open\n\n")
        f.write(f"Machine: {cpu}, {os.cpu_count()} cores. Protocol and script: `benchmarks/identify/open_set.py` (docstring). "
                f"Test part only (64 people, 266 strangers; nothing was tuned on it); {len(rows)} splits (seeds 1-{len(rows)}): "
                f"48 people enrolled from their first {args.k} photos by name with `identify enroll --pick largest` "
                "(a refused reference is left out, as a user would), the other 16 people and the strangers must stay unknown; "
                "the face nearest each probe photo's centre is scored; ground truth is LFW's folder names with "
                f"`LABEL_ERRATA` applied ({', '.join(sorted(LABEL_ERRATA))}). Both columns use the same references and the same "
                "descriptors (detect's crops through `identify label`).\n\n")
        f.write("| all splits | Facet default (`--rule calibrated`) | dlib's 0.6 rule (`--rule nearest --threshold 0.6`) | goal |\n|---|---:|---:|---:|\n")
        f.write(f"| precision (right person / all named) | {c['precision']:.3f} | {d['precision']:.3f} | **1.000** |\n")
        f.write(f"| recall (known people named correctly) | {c['recall']:.3f} | {d['recall']:.3f} | **≥ 0.98** |\n")
        f.write(f"| photos named as the wrong enrolled person | {c['wrong']} | {d['wrong']} | 0 |\n")
        f.write(f"| strangers accepted as someone enrolled | {c['strangers']} of {c['of_strangers']} | {d['strangers']} of {d['of_strangers']} | 0 |\n\n")
        f.write("Per split (calibrated / dlib 0.6):\n\n| seed | enrolled | references refused | precision | recall | wrong person | strangers |\n|---|---:|---:|---|---|---|---|\n")
        for seed, n, left, cr, dr in rows:
            f.write(f"| {seed} | {n} | {left} | {cr['precision']:.3f} / {dr['precision']:.3f} | {cr['recall']:.3f} / {dr['recall']:.3f} | "
                    f"{cr['wrong']} / {dr['wrong']} | {cr['strangers']} / {dr['strangers']} of {cr['of_strangers']} |\n")
    print(open(args.out).read())


# ---------------------------------------------------------------- tune (development part, numpy replay)

def replay_references(photos, enrol, limit=0.6):
    """The references `identify enroll` would keep (a numpy mirror of Enrollment.swift: the consistent face of a
    several-face image, outliers left out as a user would after the refusal)."""
    cands = [(p, [np.asarray(f["descriptor"]) for f in sorted(enrol.get(os.path.realpath(p), []), key=lambda f: -f["size"])]) for p in photos]
    cands = [(p, f) for p, f in cands if f]
    singles = [f[0] for _, f in cands if len(f) == 1]
    chosen = []
    for p, faces in cands:
        if len(faces) == 1:
            chosen.append(faces[0]); continue
        scores = [np.median([np.linalg.norm(x - y) for y in singles]) if singles else 9.0 for x in faces]
        order = np.argsort(scores)
        ok = scores[order[0]] <= limit and scores[order[1]] - scores[order[0]] >= 0.05
        chosen.append(faces[order[0]] if ok else faces[0])
    keep = []
    for i, v in enumerate(chosen):
        others = [chosen[j] for j in range(len(chosen)) if j != i]
        if len(others) >= 2 and np.median([np.linalg.norm(v - o) for o in others]) > limit:
            continue
        keep.append(v)
    return np.array(keep)


def loo_spread(refs):
    if len(refs) < 2:
        return None
    total = refs.sum(0)
    return float(np.median([np.linalg.norm(r - (total - r) / (len(refs) - 1)) for r in refs]))


def split_galleries(enrol, part, seeds, k):
    """Per split of `part`: (the references `identify enroll` would keep, per enrolled name; the probes)."""
    people, strangers = dataset()
    names, strs = parts(people, strangers)[part]
    for seed in seeds:
        refs, probes = split(people, names, strs, seed, k)
        yield {p: replay_references(ph, enrol) for p, ph in refs.items()}, probes


def replay_records(source, enrol, part, seeds, k):
    """Per probe of each split of `part`: (truth, nearest identity by centroid, its distance, the runner-up's
    distance, the nearest identity's leave-one-out spread, nearest identity by reference, its distance), with the
    references `identify enroll` would keep and the probe descriptors of `source` (photo -> faces)."""
    recs = []
    for gallery, probes in split_galleries(enrol, part, seeds, k):
        gnames = sorted(gallery)
        cents = np.array([gallery[n].mean(0) for n in gnames])
        spreads = [loo_spread(gallery[n]) for n in gnames]
        for photo, truth in probes:
            faces = source.get(os.path.realpath(photo), [])
            i = central(faces)
            if i is None:
                continue
            x = np.asarray(faces[i]["descriptor"])
            c = np.linalg.norm(cents - x, axis=1)
            nn = np.array([np.linalg.norm(gallery[n] - x, axis=1).min() for n in gnames])
            o = np.argsort(c)
            recs.append((truth, gnames[o[0]], c[o[0]], c[o[1]], spreads[o[0]], gnames[int(np.argmin(nn))], nn.min()))
    return recs


def tally(recs, accept, who=lambda r: r[1]):
    known = sum(1 for r in recs if r[0] is not None)
    ok = sum(1 for r in recs if r[0] is not None and accept(r) and who(r) == r[0])
    wrong = sum(1 for r in recs if r[0] is not None and accept(r) and who(r) != r[0])
    st = sum(1 for r in recs if r[0] is None and accept(r))
    return ok / known, wrong, st


def calibrated_rule(ratio, floor, cap, margin=0.05):
    def ok(r):
        t = cap if r[4] is None else min(cap, max(floor, ratio * r[4]))
        return r[2] <= t and r[3] - r[2] >= margin
    return ok


def tune(args):
    """Replays rules over cached descriptors and prints recall / wrong / strangers for the fixed thresholds and a
    grid of the calibrated rule's constants, with the probes' descriptors from two sources: detect's crops (as
    `identify label` computes them) and chips cut from the whole photo (as `identify enroll` does). The two
    differ by about 0.03 for one face, the noise a constant must survive. On the development part (the default)
    the setting chosen is the highest-recall one that names no stranger and no wrong person under both sources;
    `--part test` prints the same curve for the report, choosing nothing."""
    enrol, probe, _ = load_cache(args.work)
    seeds = range(1, args.seeds + 1)
    sources = {"crop": replay_records(probe, enrol, args.part, seeds, args.k),
               "image": replay_records(enrol, enrol, args.part, seeds, args.k)}
    header = "from detect's crops | from whole-photo chips"
    if all("mirror" in f for faces in enrol.values() for f in faces):
        # Test-time augmentation as dlib's jitter does it, mirror only: each descriptor (references and probes)
        # averaged with its mirrored chip's.
        averaged = {p: [dict(f, descriptor=(np.asarray(f["descriptor"]) + np.asarray(f["mirror"])) / 2) for f in faces]
                    for p, faces in enrol.items()}
        sources["mirror"] = replay_records(averaged, averaged, args.part, seeds, args.k)
        header += " | whole-photo chips averaged with their mirror image (not a candidate, compared only)"
    print(f"{args.part} part, {args.seeds} splits, first {args.k} photos enrolled; recall / wrong / strangers "
          f"with the probes' descriptors {header}")
    def show(label, accept, who=lambda r: r[1]):
        cols = [tally(recs, accept, who) for recs in sources.values()]
        print(f"{label:40s} " + " | ".join(f"recall {r:.3f} wrong {w:2d} strangers {s:3d}" for r, w, s in cols))
        return cols
    for t in (0.6, 0.5, 0.45):
        show(f"nearest {t}", lambda r, t=t: r[6] <= t, who=lambda r: r[5])
        show(f"centroid {t}", lambda r, t=t: r[2] <= t)
    best = None
    for ratio in (1.4, 1.5, 1.6, 1.7):
        for floor in (0.38, 0.40):
            for cap in (0.44, 0.46, 0.48, 0.50):
                cols = show(f"calibrated ratio {ratio} floor {floor} cap {cap}", calibrated_rule(ratio, floor, cap))[:2]
                if all(w == 0 and s == 0 for _, w, s in cols):
                    key = (min(r for r, _, _ in cols), ratio, floor, cap)
                    best = max(best or key, key)
    if args.part == "dev" and best:
        print(f"chosen: ratio {best[1]} floor {best[2]} cap {best[3]} (recall {best[0]:.3f}, no stranger, no wrong person under both sources)")


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["prepare", "tune", "score"])
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "..", ".build", "release"))
    ap.add_argument("--work", default="/tmp/facet-open-set")
    ap.add_argument("--out", default=os.path.join(HERE, "OPEN_SET.md"))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--part", choices=["dev", "test"], default="dev", help="tune: the part replayed (test: report only)")
    args = ap.parse_args()
    if args.command == "prepare":
        prepare(args)
    elif args.command == "tune":
        tune(args)
    elif args.command == "score":
        score_command(args)


if __name__ == "__main__":
    main()
