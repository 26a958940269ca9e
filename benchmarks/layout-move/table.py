"""Best-of-rounds table from benchmarks/layout-move/run.sh's log: before (old) and after (new) the layout move."""
import collections, re, sys

rows = collections.defaultdict(list)
current = None
for line in open(sys.argv[1]):
    m = re.match(r"== round \d (old|new) (.*)", line)
    if m:
        side, what = m.groups()
        w = re.match(r"detect d14 wall ([\d.]+)", what)
        if w:
            rows[("detect d14.mp4, whole pipeline, wall s", side)].append(float(w.group(1)))
        current = (side, what)
        continue
    m = re.match(r"(.+?): ([\d.]+) ms per (inference|face) ?\(?(single|batch 16)?", line)
    if m:
        name = m.group(1) + (f" ({m.group(4)})" if m.group(4) else "")
        rows[(f"{name}, ms", current[0])].append(float(m.group(2)))
    m = re.match(r"train: .* ([\d.]+) s/iteration", line)
    if m:
        rows[(f"{current[1]}, training s/iteration", current[0])].append(float(m.group(1)))
    m = re.match(r"infer: batch \d+, ([\d.]+) images/s", line)
    if m:
        rows[(f"{current[1]}, inference images/s", current[0])].append(-float(m.group(1)))

print("| measure | before (best of rounds) | after (best of rounds) | after / before |")
print("|---|---:|---:|---:|")
for name in sorted({k for k, _ in rows}):
    old, new = min(rows[(name, "old")]), min(rows[(name, "new")])
    print(f"| {name} | {abs(old):.3g} | {abs(new):.3g} | {new / old:.2f} |")
