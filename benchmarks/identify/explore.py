"""Ideas for the open-set rule measured against the calibrated default, on lfw-open (issue 17; see OPEN_SET.md).

Everything is chosen on the development part (`--dev-seeds` splits, 20 by default: more splits than `open_set.py
tune` uses, because the development part has few dangerous strangers) and then shown, choosing nothing, on the
test part (`--test-seeds` splits, the 3 of the table). A setting is admissible when it names no stranger and no
wrong person on the development part with every probe source it is measured with.

  jitter    dlib's `num_jitters` idea: each descriptor the mean over 16 seeded jittered chips (FaceChipJitter:
            shift within ±2 %, span 0.96-0.99, ±3°, mirrored half of the time; `identify-bench --jitter 16 --seed 1`),
            for the references only, or references and probes; the calibrated rule re-tuned for each.
  quality   the probe's detect quality (|yaw|, |pitch|, |roll|, sharpness, size, detector score, contrast): faces
            beyond a quantile of one measure are "poor" and get their threshold × g_poor, the others × g_good.
  blend     α × centroid distance + (1 − α) × nearest-reference distance against the calibrated threshold.
  crowding  each identity's threshold also at most β × the mean distance from its centroid to the m nearest
            other enrolled centroids (the gallery as a cohort: known at label time, unlike a background set).
  whitening within-class whitening (WCCN) of the descriptors, learned outside lfw-open from `../shared/faces/
            identities` (10 people x 10 photos; `identify-bench` -> identities.jsonl), shrunk by λ × the mean
            eigenvalue and rescaled to dlib's median true-match distance on the development part.
  transductive  the probe photos as evidence about each other (labelled in one call, as a track's frames are):
            expansion (each identity's centroid re-estimated from its references and the probes the calibrated rule
            accepted, then every probe decided again against the new centroids with a second threshold), the
            same with a neighbour check (a newly named probe needs f of its k nearest faces, references and
            probes, already named that identity) and probe clustering (average-linkage clusters of the probes
            at τ whose mean lies within t_c of an identity's centroid take that identity for members within
            0.55; the rest as the calibrated rule decides).
  oracle    the ceiling: per-identity thresholds set with hindsight just below the nearest impostor each would
            take (strangers and other people's photos), no margin.

Usage (after `open_set.py prepare`, which also writes the jittered descriptors):
  python3 benchmarks/identify/explore.py --work /tmp/facet-open-set [jitter quality blend crowding whitening transductive oracle]
"""
import argparse, json, os, sys
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import open_set as o  # noqa: E402

GRID = [(ratio, floor, cap) for ratio in (1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 2.0) for floor in (0.34, 0.36, 0.38, 0.40)
        for cap in (0.40, 0.42, 0.44, 0.46, 0.48, 0.50) if cap >= floor]


def fmt(t):
    return f"recall {t[0]:.3f} wrong {t[1]} strangers {t[2]}"


def best_setting(record_sets, rule_of, grid):
    """The admissible setting with the highest worst-source recall: (recall, setting) or None."""
    best = None
    for setting in grid:
        cols = [o.tally(recs, rule_of(*setting)) for recs in record_sets]
        if all(w == 0 and s == 0 for _, w, s in cols):
            key = (min(c[0] for c in cols), setting)
            best = max(best or key, key)
    return best


def jitter_sources(work, part):
    path = os.path.join(work, f"jitter-{part}.jsonl")
    faces = {}
    for line in open(path):
        row = json.loads(line)
        faces[os.path.realpath(row["path"])] = row["faces"]
    def variant(fn):
        return {p: [dict(f, descriptor=fn(f)) for f in fs] for p, fs in faces.items()}
    return {"plain": variant(lambda f: np.asarray(f["descriptor"])),
            "jittered": variant(lambda f: np.asarray(f["jitters"]).mean(0))}


def jitter(args, cache):
    enrol, probe = cache
    dev, test = jitter_sources(args.work, "dev"), jitter_sources(args.work, "test")
    print(f"jitter: whole-photo chips, dev {args.dev_seeds} splits -> test {args.test_seeds} splits; the calibrated rule re-tuned for each")
    for refs, probes in (("plain", "plain"), ("jittered", "plain"), ("jittered", "jittered")):
        rd = o.replay_records(dev[probes], dev[refs], "dev", range(1, args.dev_seeds + 1), args.k)
        rt = o.replay_records(test[probes], test[refs], "test", range(1, args.test_seeds + 1), args.k)
        best = best_setting([rd], o.calibrated_rule, GRID)
        std = o.tally(rt, o.calibrated_rule(1.5, 0.40, 0.46))
        line = f"  references {refs:8s} probes {probes:8s} "
        if best:
            line += f"dev best {best[0]:.3f} at ratio/floor/cap {best[1]} -> test {fmt(o.tally(rt, o.calibrated_rule(*best[1])))}"
        else:
            line += "dev: no admissible setting"
        print(line + f"; at the default 1.5/0.40/0.46: dev {fmt(o.tally(rd, o.calibrated_rule(1.5, 0.40, 0.46)))}, test {fmt(std)}")
        od = oracle_recall(per_split(dev[probes], dev[refs], "dev", args.dev_seeds, args.k))
        ot = oracle_recall(per_split(test[probes], test[refs], "test", args.test_seeds, args.k))
        print(f"      oracle ceiling: dev {od:.3f}, test {ot:.3f}")


def quality_records(probe, enrol, manifest_path, part, seeds, k):
    """Like open_set.replay_records for detect's crops, each record with the probe face's detect measures."""
    manifest = json.load(open(manifest_path))
    q = {it["id"]: {"yaw": abs(it["pose"]["yaw"]), "pitch": abs(it["pose"]["pitch"]), "roll": abs(it["pose"]["roll"]),
                    "sharpness": it["quality"]["sharpness"], "size": it["faceSize"], "score": it["score"],
                    "contrast": it["quality"]["contrast"]} for it in manifest["items"]}
    tagged = {p: [dict(f, descriptor=f["descriptor"]) for f in faces] for p, faces in probe.items()}
    out = []
    people, strangers = o.dataset()
    names, strs = o.parts(people, strangers)[part]
    for seed in seeds:
        _, probes = o.split(people, names, strs, seed, k)
        recs = o.replay_records(tagged, enrol, part, [seed], k)
        # replay_records keeps probe order and skips photos without a face: walk both together.
        faces = [tagged[os.path.realpath(p)][o.central(tagged[os.path.realpath(p)])]
                 for p, _ in probes if tagged.get(os.path.realpath(p)) and o.central(tagged[os.path.realpath(p)]) is not None]
        assert len(faces) == len(recs)
        out += [(r, q[f["id"]]) for r, f in zip(recs, faces)]
    return out


def quality(args, cache):
    enrol, probe = cache
    mpath = open(os.path.join(args.work, "faces-manifest.txt")).read().strip()
    dev = quality_records(probe, enrol, mpath, "dev", range(1, args.dev_seeds + 1), args.k)
    test = quality_records(probe, enrol, mpath, "test", range(1, args.test_seeds + 1), args.k)
    base = o.calibrated_rule(1.5, 0.40, 0.46)
    def rule(measure, limit, worse_above, g_good, g_poor):
        def ok(pair):
            r, q = pair
            poor = q[measure] > limit if worse_above else q[measure] < limit
            g = g_poor if poor else g_good
            return o.calibrated_rule(1.5 * g, 0.40 * g, 0.46 * g)(r)
        return ok
    def tally_pairs(pairs, accept):
        known = sum(1 for r, _ in pairs if r[0] is not None)
        ok = sum(1 for p in pairs if p[0][0] is not None and accept(p) and p[0][1] == p[0][0])
        wrong = sum(1 for p in pairs if p[0][0] is not None and accept(p) and p[0][1] != p[0][0])
        st = sum(1 for p in pairs if p[0][0] is None and accept(p))
        return ok / known, wrong, st
    print(f"quality: detect's crops, dev {args.dev_seeds} splits -> test {args.test_seeds} splits; default rule: "
          f"dev {fmt(tally_pairs(dev, lambda p: base(p[0])))}, test {fmt(tally_pairs(test, lambda p: base(p[0])))}")
    # Where the misses and the near strangers lie (development part, by record).
    missed = [q for r, q in dev if r[0] is not None and r[1] == r[0] and not base(r)]
    found = [q for r, q in dev if r[0] is not None and r[1] == r[0] and base(r)]
    near = [q for r, q in dev if r[0] is None and r[2] <= 1.15 * (0.46 if r[4] is None else min(0.46, max(0.40, 1.5 * r[4])))]
    for label, group in (("genuine found", found), ("genuine missed", missed), ("strangers within 1.15 T", near)):
        print(f"  dev medians, {label:24s} n={len(group):4d} " + " ".join(f"{m} {np.median([g[m] for g in group]):6.1f}" for m in group[0]))
    for measure, worse_above in (("yaw", True), ("pitch", True), ("roll", True), ("sharpness", False), ("size", False),
                                 ("score", False), ("contrast", False)):
        limits = np.percentile([q[measure] for _, q in dev], [10, 25, 50, 75, 90])
        best = None
        for limit in limits:
            for g_good in np.arange(0.96, 1.161, 0.01):
                for g_poor in np.arange(0.80, 1.001, 0.02):
                    t = tally_pairs(dev, rule(measure, limit, worse_above, g_good, g_poor))
                    if t[1] == 0 and t[2] == 0:
                        key = (t[0], float(limit), float(g_good), float(g_poor))
                        best = max(best or key, key)
        t = tally_pairs(test, rule(measure, *best[1:2], worse_above, *best[2:]))
        print(f"  {measure:9s} poor when {'above' if worse_above else 'below'} {best[1]:7.2f}, good x{best[2]:.2f}, poor x{best[3]:.2f}: "
              f"dev recall {best[0]:.3f} -> test {fmt(t)}")


def blend(args, cache):
    enrol, probe = cache
    sources = {"crop": probe, "image": enrol}
    dev = [o.replay_records(s, enrol, "dev", range(1, args.dev_seeds + 1), args.k) for s in sources.values()]
    test = [o.replay_records(s, enrol, "test", range(1, args.test_seeds + 1), args.k) for s in sources.values()]
    def rule_of(alpha):
        def make(ratio, floor, cap):
            def ok(r):
                if r[3] - r[2] < 0.05 or r[5] != r[1]:
                    return False
                t = cap if r[4] is None else min(cap, max(floor, ratio * r[4]))
                return alpha * r[2] + (1 - alpha) * r[6] <= t
            return ok
        return make
    print(f"blend: centroid and nearest-reference distance, crops and whole-photo chips, dev {args.dev_seeds} splits -> test {args.test_seeds} splits")
    for alpha in (1.0, 0.8, 0.6, 0.5, 0.4):
        best = best_setting(dev, rule_of(alpha), GRID)
        t = [o.tally(r, rule_of(alpha)(*best[1])) for r in test]
        print(f"  alpha {alpha}: dev best {best[0]:.3f} at ratio/floor/cap {best[1]} -> test " + " | ".join(fmt(x) for x in t))


def crowding_records(source, enrol, part, seeds, k):
    """(truth, nearest identity, its centroid distance, the runner-up's, its spread, mean distance from its
    centroid to the 1 / 3 / 5 nearest other enrolled centroids)."""
    out = []
    for gallery, probes in o.split_galleries(enrol, part, seeds, k):
        gnames = sorted(gallery)
        cents = np.array([gallery[n].mean(0) for n in gnames])
        spreads = [o.loo_spread(gallery[n]) for n in gnames]
        between = np.linalg.norm(cents[:, None] - cents[None], axis=2)
        np.fill_diagonal(between, np.inf)
        near = np.sort(between, axis=1)
        for photo, truth in probes:
            faces = source.get(os.path.realpath(photo), [])
            i = o.central(faces)
            if i is None:
                continue
            c = np.linalg.norm(cents - np.asarray(faces[i]["descriptor"]), axis=1)
            order = np.argsort(c)
            j = order[0]
            out.append((truth, gnames[j], c[j], c[order[1]], spreads[j], near[j, :1].mean(), near[j, :3].mean(), near[j, :5].mean()))
    return out


def crowding(args, cache):
    enrol, probe = cache
    dev = [crowding_records(s, enrol, "dev", range(1, args.dev_seeds + 1), args.k) for s in (probe, enrol)]
    test = [crowding_records(s, enrol, "test", range(1, args.test_seeds + 1), args.k) for s in (probe, enrol)]
    def rule_of(column):
        def make(ratio, floor, cap, beta):
            def ok(r):
                t = cap if r[4] is None else min(cap, max(floor, ratio * r[4]))
                return r[2] <= min(t, beta * r[column]) and r[3] - r[2] >= 0.05
            return ok
        return make
    grid = [(ratio, floor, cap, beta) for ratio in (1.5, 1.6, 1.7, 1.8, 2.0) for floor in (0.36, 0.38, 0.40, 0.42)
            for cap in (0.46, 0.48, 0.50, 0.52) for beta in (0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 10.0)]
    print(f"crowding: crops and whole-photo chips, dev {args.dev_seeds} splits -> test {args.test_seeds} splits "
          "(beta 10 = no crowding bound)")
    for column, m in ((5, 1), (6, 3), (7, 5)):
        best = best_setting(dev, rule_of(column), grid)
        t = [o.tally(r, rule_of(column)(*best[1])) for r in test]
        print(f"  m {m}: dev best {best[0]:.3f} at ratio/floor/cap/beta {best[1]} -> test " + " | ".join(fmt(x) for x in t))


def whitening(args, cache):
    enrol, probe = cache
    xs, ys = [], []
    for line in open(os.path.join(args.work, "identities.jsonl")):
        row = json.loads(line)
        i = o.central(row["faces"])
        if i is not None:
            xs.append(row["faces"][i]["descriptor"]); ys.append(os.path.basename(os.path.dirname(row["path"])))
    x, y = np.array(xs), np.array(ys)
    within = sum((x[y == n] - x[y == n].mean(0)).T @ (x[y == n] - x[y == n].mean(0)) for n in set(ys)) / (len(x) - len(set(ys)))
    ev, vecs = np.linalg.eigh(within)
    plain = np.median([r[2] for r in o.replay_records(enrol, enrol, "dev", range(1, 4), args.k) if r[0] == r[1]])
    print(f"whitening: learned on {len(set(ys))} people, {len(x)} faces outside lfw-open; crops and whole-photo chips, "
          f"dev {args.dev_seeds} splits")
    for lam in (0.5, 1.0, 2.0, 4.0, 8.0):
        # Roughly dlib's scale first (enrolment's reference checks work in its units), then exactly.
        w = vecs @ np.diag(1 / np.sqrt(ev + lam * ev.mean())) @ vecs.T * np.sqrt(ev.mean() * (1 + lam))
        def apply(src, w):
            return {p: [dict(f, descriptor=w @ np.asarray(f["descriptor"])) for f in fs] for p, fs in src.items()}
        white = apply(enrol, w)
        w = w * plain / np.median([r[2] for r in o.replay_records(white, white, "dev", range(1, 4), args.k) if r[0] == r[1]])
        en, pr = apply(enrol, w), apply(probe, w)
        dev = [o.replay_records(s, en, "dev", range(1, args.dev_seeds + 1), args.k) for s in (pr, en)]
        best = best_setting(dev, o.calibrated_rule, GRID)
        ceiling = oracle_recall(per_split(en, en, "dev", args.dev_seeds, args.k))
        print(f"  lambda {lam}: dev best " + (f"{best[0]:.3f} at ratio/floor/cap {best[1]}" if best else "none") + f", oracle ceiling {ceiling:.3f}")


def probe_arrays(source, enrol, part, seeds, k):
    """Per split: (identity names, their kept references, probe descriptors [n, 128], probe truths)."""
    out = []
    for gallery, probes in o.split_galleries(enrol, part, seeds, k):
        xs, truths = [], []
        for photo, truth in probes:
            faces = source.get(os.path.realpath(photo), [])
            i = o.central(faces)
            if i is not None:
                xs.append(np.asarray(faces[i]["descriptor"])); truths.append(truth)
        out.append((sorted(gallery), [gallery[n] for n in sorted(gallery)], np.array(xs), truths))
    return out


def calibrated_labels(cents, limits, x, margin=0.05):
    """The calibrated rule over probe descriptors: identity index per probe (-1 unknown) and all distances."""
    d = np.linalg.norm(x[:, None, :] - cents[None], axis=2)
    order = np.argsort(d, axis=1)
    rows = np.arange(len(x))
    best, d1, d2 = order[:, 0], d[rows, order[:, 0]], d[rows, order[:, 1]]
    return np.where((d1 <= limits[best]) & (d2 - d1 >= margin), best, -1), d


def identity_limits(refsets, ratio, floor, cap, single=0.48):
    return np.array([single if len(r) < 2 else min(cap, max(floor, ratio * o.loo_spread(r))) for r in refsets])


def transductive_rule(kind, cap2=0.46, ratio2=1.5, k=5, f=5, tau=0.5, tc=0.3):
    """A rule over one split's probes at once (`kind`: calibrated, the first pass alone; expansion, neighbours,
    clusters: see the docstring)."""
    def decide(refsets, x):
        cents = np.array([r.mean(0) for r in refsets])
        first, d = calibrated_labels(cents, identity_limits(refsets, 1.5, 0.40, 0.46), x)
        if kind == "calibrated":
            return first
        if kind == "clusters":
            from scipy.cluster.hierarchy import fcluster, linkage
            out = first.copy()
            groups = fcluster(linkage(x, method="average"), tau, criterion="distance")
            for g in np.unique(groups):
                members = np.where(groups == g)[0]
                if len(members) < 2:
                    continue
                c = np.linalg.norm(cents - x[members].mean(0), axis=1)
                j, j2 = np.argsort(c)[:2]
                if c[j] <= tc and c[j2] - c[j] >= 0.05:
                    out[members[(out[members] < 0) & (d[members, j] <= 0.55)]] = j
            return out
        grown = np.array([(r.sum(0) + x[first == j].sum(0)) / (len(r) + (first == j).sum()) for j, r in enumerate(refsets)])
        second, _ = calibrated_labels(grown, identity_limits(refsets, ratio2, 0.40, cap2), x)
        if kind == "expansion":
            return second
        faces = np.concatenate(refsets + [x])
        owner = np.concatenate([np.full(len(r), j) for j, r in enumerate(refsets)] + [first])
        near = np.linalg.norm(x[:, None, :] - faces[None], axis=2)
        near[np.arange(len(x)), len(faces) - len(x) + np.arange(len(x))] = np.inf
        nn = np.argsort(near, axis=1)[:, :k]
        out = first.copy()
        for i in np.where((first < 0) & (second >= 0))[0]:
            if (owner[nn[i]] == second[i]).sum() >= f:
                out[i] = second[i]
        return out
    return decide


def tally_arrays(splits, decide):
    ok = known = wrong = strangers = 0
    for names, refsets, x, truths in splits:
        for t, l in zip(truths, decide(refsets, x)):
            known += t is not None
            if l >= 0:
                ok += t is not None and names[l] == t
                wrong += t is not None and names[l] != t
                strangers += t is None
    return ok / known, wrong, strangers


def transductive(args, cache):
    enrol, probe = cache
    dev = [probe_arrays(s, enrol, "dev", range(1, args.dev_seeds + 1), args.k) for s in (probe, enrol)]
    test = [probe_arrays(s, enrol, "test", range(1, args.test_seeds + 1), args.k) for s in (probe, enrol)]
    print(f"transductive: crops and whole-photo chips, dev {args.dev_seeds} splits -> test {args.test_seeds} splits; "
          f"first pass the calibrated rule: dev " + " | ".join(fmt(tally_arrays(s, transductive_rule("calibrated"))) for s in dev))
    grids = {"expansion": [dict(cap2=c, ratio2=r) for c in (0.44, 0.46, 0.48, 0.50) for r in (1.4, 1.5, 1.6, 1.7)],
             "neighbours": [dict(cap2=c, ratio2=r, k=k, f=f) for c in (0.48, 0.50, 0.52, 0.55) for r in (1.6, 1.8, 2.0)
                            for k, f in ((3, 3), (5, 4), (5, 5), (7, 6))],
             "clusters": [dict(tau=t, tc=c) for t in (0.40, 0.45, 0.50) for c in (0.26, 0.30, 0.34)]}
    for kind, grid in grids.items():
        best = None
        for setting in grid:
            cols = [tally_arrays(s, transductive_rule(kind, **setting)) for s in dev]
            if all(w == 0 and st == 0 for _, w, st in cols):
                key = (min(c[0] for c in cols), sorted(setting.items()))
                best = max(best or key, key)
        if best is None:
            print(f"  {kind}: no admissible setting on the development part")
            continue
        t = [tally_arrays(s, transductive_rule(kind, **dict(best[1]))) for s in test]
        print(f"  {kind}: dev best {best[0]:.3f} at {dict(best[1])} -> test " + " | ".join(fmt(x) for x in t))


def oracle_recall(splits):
    """Recall with per-identity thresholds set with hindsight, split by split (`splits`: one record list per
    split), each just below the nearest impostor (stranger or other person's photo) the identity would take."""
    known = ok = 0
    for recs in splits:
        imp = defaultdict(lambda: 9.0)
        for r in recs:
            if r[0] != r[1]:
                imp[r[1]] = min(imp[r[1]], r[2])
        known += sum(1 for r in recs if r[0] is not None)
        ok += sum(1 for r in recs if r[0] is not None and r[1] == r[0] and r[2] < imp[r[1]])
    return ok / known


def per_split(source, refs, part, n, k):
    return [o.replay_records(source, refs, part, [seed], k) for seed in range(1, n + 1)]


def oracle(args, cache):
    enrol, probe = cache
    for part, n in (("dev", args.dev_seeds), ("test", args.test_seeds)):
        for name, source in (("crop", probe), ("image", enrol)):
            print(f"oracle: {part} part, {name}: recall {oracle_recall(per_split(source, enrol, part, n, args.k)):.3f} "
                  "with per-identity thresholds set with hindsight")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ideas", nargs="*", default=["jitter", "quality", "blend", "crowding", "whitening", "transductive", "oracle"])
    ap.add_argument("--work", default="/tmp/facet-open-set")
    ap.add_argument("--dev-seeds", type=int, default=20)
    ap.add_argument("--test-seeds", type=int, default=3)
    ap.add_argument("-k", type=int, default=5)
    args = ap.parse_args()
    enrol, probe, _ = o.load_cache(args.work)
    for idea in args.ideas:
        {"jitter": jitter, "quality": quality, "blend": blend, "crowding": crowding, "whitening": whitening, "transductive": transductive,
         "oracle": oracle}[idea](args, (enrol, probe))


if __name__ == "__main__":
    main()
