"""Exports the faces a Facet swap replaced as an alignments file for the faceswap-style peer
(peer_convert_faceswap.py), the way faceswap's convert consumes the alignments its extract wrote.

Reads a `facet.swap` manifest (Manifests/swap-*.json): for every frame, every face with `swapped: true`
gives its alignment `matrix` (frame pixels -> aligned-crop pixels, a b tx c d ty), its convex landmark hull
`maskHull` (frame pixels, x y pairs) and `faceSize`. Writes JSON:
  {"width", "height", "frameRate", "frames": total frame count, "cropSize", "coverage", "centering",
   "faces": {"<frame index>": [{"matrix": [6], "hull": [[x, y], ...], "faceSize": px, "track": id}, ...]}}
Usage: python3 export_alignments.py swap-manifest.json alignments.json
"""
import json
import sys


def main():
    source, target = sys.argv[1], sys.argv[2]
    with open(source) as f:
        manifest = json.load(f)
    assert manifest.get("schema") == "facet.swap", "not a facet.swap manifest: %s" % source
    out = manifest["outputs"][0]
    model = manifest["model"]
    faces = {}
    for frame in out["frames"]:
        kept = []
        for face in frame["faces"]:
            if not face.get("swapped"):
                continue
            hull = face["maskHull"]
            kept.append({"matrix": face["matrix"], "hull": [[hull[i], hull[i + 1]] for i in range(0, len(hull), 2)],
                         "faceSize": face["faceSize"], "track": face["track"]})
        if kept:
            faces[str(frame["index"])] = kept
    doc = {"width": out["width"], "height": out["height"], "frameRate": out.get("frameRate"), "frames": len(out["frames"]),
           "cropSize": model["cropSize"], "coverage": model["coverage"], "centering": model["centering"], "faces": faces}
    with open(target, "w") as f:
        json.dump(doc, f)
    print("alignments: %d frames, %d with faces, %d faces" % (doc["frames"], len(faces), sum(len(v) for v in faces.values())))


if __name__ == "__main__":
    main()
