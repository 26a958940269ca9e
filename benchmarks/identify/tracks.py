"""How much room a video track's median may get beyond one photo's threshold (issue 17; OPEN_SET.md, "Tracks").

The calibrated rule gives a track of at least 5 recognisable faces more room than one photo, because frames of a
video lie farther from photo references than photos do. A track's median does not average a stranger away, though:
a look-alike's frames are all alike. Two measurements:

  pseudo    Tracks built from lfw-open photos (`open_set.py` splits and references): each person's probe photos
            in windows of W (5 or 9) consecutive photos by name are one "track", decided as `LabelDecider.
            decideTrack` decides (the nearest identity by median centroid distance, within its threshold plus the
            room, 0.05 clear of the runner-up). Tracks of enrolled people must be named correctly; tracks of the
            people not enrolled must stay unknown. Identities enrolled from K = 1, 2, 3 or 5 photos. The 20
            development splits choose the largest room that names no stranger and no wrong person with either
            probe source (detect's crops, whole-photo chips); the 3 test splits only show.
  video     Real video tracks of people nobody enrolled: `detect` and `identify label` over the 12 talking-head
            clips and the stage clip of ../shared/faces/videos, against a gallery of all 96 lfw-open people
            enrolled from their first 5 photos. Every track named is a bystander a swap would touch.

Usage (after `open_set.py prepare`; `video` runs the release binaries once, about 70 s):
  python3 benchmarks/identify/tracks.py --work /tmp/facet-open-set [pseudo] [video]
"""
import argparse, glob, json, os, sqlite3, sys
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import open_set as o  # noqa: E402

ROOMS = (0.0, 0.02, 0.04, 0.05, 0.06, 0.08, 0.1)
SHIPPED = {1: 0.1}       # one reference: 0.1; several: 0.05 (`OpenSetCalibration`)
SEVERAL = 0.05
BEFORE = 0.1             # every identity, before this change


def limits(refsets, ratio=1.5, floor=0.40, cap=0.46, single=0.48):
    return np.array([single if len(r) < 2 else min(cap, max(floor, ratio * o.loo_spread(r))) for r in refsets])


def track_decision(T, cents, lim, room, margin=0.05, faces=5, cap=0.6):
    """LabelDecider.decideTrack's vote for one track (T: [n, 128]): (identity index or None)."""
    med = np.median(np.linalg.norm(T[:, None] - cents[None], axis=2), axis=0)
    order = np.argsort(med)
    b = order[0]
    limit = max(lim[b], min(cap, lim[b] + (room[b] if len(T) >= faces else 0)))
    clear = len(med) < 2 or med[order[1]] - med[b] >= margin
    return b if med[b] <= limit and clear else None


def pseudo_rows(enrol, source, part, seeds, k, window):
    """Per pseudo-track: (truth or None, its median distances' inputs) replayed lazily as (T, cents, lim, nrefs, names)."""
    people, strangers = o.dataset()
    names, strs = o.parts(people, strangers)[part]
    out = []
    for seed in seeds:
        refs, _ = o.split(people, names, strs, seed, k)
        g = sorted(refs)
        gal = [o.replay_references(refs[n], enrol) for n in g]
        cents = np.array([r.mean(0) for r in gal])
        lim = limits(gal)
        nrefs = np.array([len(r) for r in gal])
        for person in names:
            enrolled = person in refs
            xs = []
            for f in (people[person][k:] if enrolled else people[person]):
                faces = source.get(os.path.realpath(f), [])
                i = o.central(faces)
                if i is not None:
                    xs.append(np.asarray(faces[i]["descriptor"]))
            for w in range(0, len(xs) - window + 1, window):
                out.append((person if enrolled else None, np.array(xs[w:w + window]), cents, lim, nrefs, g))
    return out


def tally(rows, room_of):
    """(recall of the enrolled people's tracks, wrong person, strangers' tracks named, strangers' tracks)."""
    genuine = ok = wrong = named = strangers = 0
    for truth, T, cents, lim, nrefs, g in rows:
        who = track_decision(T, cents, lim, room_of(nrefs))
        if truth is None:
            strangers += 1
            named += who is not None
        else:
            genuine += 1
            ok += who is not None and g[who] == truth
            wrong += who is not None and g[who] != truth
    return ok / max(genuine, 1), wrong, named, strangers


def pseudo(args, enrol, probe):
    print("pseudo-tracks: recall / strangers' tracks named (crops | whole-photo chips); dev 20 splits choose, test 3 show")
    for window in (5, 9):
        for k in (1, 2, 3, 5):
            dev = [pseudo_rows(enrol, s, "dev", range(1, 21), k, window) for s in (probe, enrol)]
            test = [pseudo_rows(enrol, s, "test", range(1, 4), k, window) for s in (probe, enrol)]
            chosen = None
            for room in ROOMS:
                cols = [tally(r, lambda n, room=room: np.full(len(n), room)) for r in dev]
                if all(c[1] == 0 and c[2] == 0 for c in cols):
                    chosen = room
            shipped = lambda n: np.where(n < 2, SHIPPED[1], SEVERAL)
            cells = []
            for label, room_of in [(f"{r:.2f}", lambda n, r=r: np.full(len(n), r)) for r in ROOMS] + [("shipped", shipped)]:
                t = [tally(r, room_of) for r in test]
                cells.append(f"{label}: {t[0][0]:.3f}/{t[0][2]} | {t[1][0]:.3f}/{t[1][2]}" + (f" (wrong {t[0][1]}/{t[1][1]})" if t[0][1] or t[1][1] else ""))
            n = tally(test[0], lambda n: np.zeros(len(n)))[3]
            print(f"W {window} K {k}: dev admits up to {chosen}; test ({n} stranger tracks a source):\n    " + "\n    ".join(cells))


def video_work(args):
    """Detects and labels the shared clips once (a throw-away identity fills the descriptor cache)."""
    ws = os.path.join(args.work, "videos")
    done = os.path.join(ws, "faces-manifest.txt")
    if not os.path.exists(done):
        clips = sorted(glob.glob(os.path.join(o.SHARED, "..", "videos", "*.mp4")))
        det = json.loads(o.run([os.path.join(args.bin, "detect"), "--workspace", ws, "--json", "-q"] + clips).stdout)
        ident = os.path.join(args.bin, "identify")
        image = os.path.join(o.SHARED, "..", "images", "astronaut.png")
        o.run([ident, "enroll", "--workspace", ws, "-q", "--name", "cache-warmer", image])
        o.run([ident, "label", "--workspace", ws, "-q", "--labels", os.path.join(ws, "warm-labels.json"), det["manifest"]])
        with open(done, "w") as f:
            f.write(det["manifest"])
    path = open(done).read().strip()
    manifest = json.load(open(path))
    db = sqlite3.connect(os.path.join(ws, "catalog.sqlite"))
    sha = {r[0]: r[1] for r in db.execute("SELECT face_id, crop_sha256 FROM face_labels")}
    vec = {r[0]: np.frombuffer(r[1], dtype="<f4").astype(np.float64) for r in db.execute("SELECT crop_sha256, embedding FROM face_embeddings")}
    tracks = defaultdict(list)
    for item in manifest["items"]:
        if item["faceSize"] >= 36:
            tracks[(os.path.basename(manifest["inputs"][item["input"]]["path"]), item["track"])].append(vec[sha[item["id"]]])
    return {key: np.array(v) for key, v in tracks.items()}


def video(args, enrol):
    people, _ = o.dataset()
    names = sorted(people)
    gal = [o.replay_references(people[n][:5], enrol) for n in names]
    cents = np.array([r.mean(0) for r in gal])
    lim = limits(gal)
    nrefs = np.array([len(r) for r in gal])
    tracks = {k: v for k, v in video_work(args).items() if len(v) >= 5}
    print(f"video: {len(tracks)} tracks of 5+ recognisable faces, nobody enrolled, against all {len(names)} lfw-open people (5 photos each)")
    for label, room in (("no room", np.zeros(len(names))), (f"{BEFORE} for every identity (before)", np.full(len(names), BEFORE)),
                        ("shipped (0.1 one reference, 0.05 several)", np.where(nrefs < 2, SHIPPED[1], SEVERAL))):
        named = []
        for key, T in sorted(tracks.items()):
            who = track_decision(T, cents, lim, room)
            if who is not None:
                med = float(np.median(np.linalg.norm(T - cents[who], axis=1)))
                named.append(f"{key[0]} track {key[1]} ({len(T)} faces) as {names[who]} at {med:.3f} (threshold {lim[who]:.3f})")
        print(f"  {label}: {len(named)} named" + "".join(f"\n    {n}" for n in named))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", nargs="*", default=["pseudo", "video"])
    ap.add_argument("--work", default="/tmp/facet-open-set")
    ap.add_argument("--bin", default=os.path.join(o.HERE, "..", "..", ".build", "release"))
    args = ap.parse_args()
    enrol, probe, _ = o.load_cache(args.work)
    if "pseudo" in args.what:
        pseudo(args, enrol, probe)
    if "video" in args.what:
        video(args, enrol)


if __name__ == "__main__":
    main()
