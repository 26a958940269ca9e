#!/usr/bin/env python3
"""Golden outputs of MediaPipe's hand models (palm_detection_full, hand_landmark_full) for Facet's tests.

Runs the .tflite files with LiteRT (ai-edge-litert) on crops of a real image with a hand
(Tests/Fixtures/hands/stage_frame140.png: frame 140 of two_people_stage.mp4, x 110..366, y 0..256),
and MediaPipe's own Hands solution (mediapipe 0.10.14, model_complexity=1 = the same two models) on the
whole image for the end-to-end check. Writes Tests/Fixtures/hands/hand_golden.json.

Setup (nothing is committed but the JSON):
  python3 -m venv /tmp/hand-venv && /tmp/hand-venv/bin/pip install ai-edge-litert numpy opencv-python-headless
  /tmp/hand-venv/bin/pip install --no-deps mediapipe==0.10.14 && /tmp/hand-venv/bin/pip install protobuf==4.25.3 absl-py attrs flatbuffers
  /tmp/hand-venv/bin/python scripts/hand-goldens.py ~/.cache/facet/models
"""
import json, os, sys
import numpy as np
import cv2
from ai_edge_litert.interpreter import Interpreter

models = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/facet/models")
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "hands")
image = cv2.cvtColor(cv2.imread(os.path.join(here, "stage_frame140.png")), cv2.COLOR_BGR2RGB)   # 256x256 RGB

# Network inputs are plain pixel crops (no resampling, so Swift builds exactly the same tensor): values / 255.
PALM_CROP = (32, 40)      # x, y of the 192x192 crop
LANDMARK_CROP = (0, 32)   # x, y of the 224x224 crop


def run(name, x):
    it = Interpreter(model_path=os.path.join(models, name))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x[None].astype(np.float32))
    it.invoke()
    return {d["name"]: it.get_tensor(d["index"]).reshape(-1) for d in it.get_output_details()}


def crop(x, y, n):
    return image[y:y + n, x:x + n].astype(np.float32) / 255


def synthetic(n):
    return (np.sin(np.arange(n * n * 3, dtype=np.float64) * 0.001) * 0.9).astype(np.float32).reshape(n, n, 3)


def summary(v):
    return {"first8": [float(a) for a in v[:8]], "sum": float(v.astype(np.float64).sum()),
            "abs_sum": float(np.abs(v.astype(np.float64)).sum())}


out = {"image": "stage_frame140.png", "palm_crop": PALM_CROP, "landmark_crop": LANDMARK_CROP}

palm = run("palm_detection_full.tflite", crop(*PALM_CROP, 192))
regressors, scores = palm["Identity"], palm["Identity_1"]
top = np.argsort(-scores)[:16]
out["palm"] = {"scores": [float(s) for s in scores], "regressors": summary(regressors),
               "top": [{"anchor": int(i), "regressors": [float(v) for v in regressors[18 * i:18 * i + 18]]} for i in top]}
syn = run("palm_detection_full.tflite", synthetic(192))
out["palm_synthetic"] = {"scores": summary(syn["Identity_1"]), "regressors": summary(syn["Identity"])}

hand = run("hand_landmark_full.tflite", crop(*LANDMARK_CROP, 224))
out["landmark"] = {k: [float(v) for v in hand[k]] for k in ("Identity", "Identity_1", "Identity_2", "Identity_3")}
syn = run("hand_landmark_full.tflite", synthetic(224))
out["landmark_synthetic"] = {k: summary(syn[k]) for k in ("Identity", "Identity_1", "Identity_2", "Identity_3")}

# End to end: MediaPipe's Hands on the whole image (static mode: palm detection, then landmarks on each hand).
import mediapipe as mp
with mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=2, model_complexity=1, min_detection_confidence=0.5) as hands:
    result = hands.process(image)
h, w = image.shape[:2]
out["mediapipe_hands"] = [
    {"score": float(c.classification[0].score), "label": c.classification[0].label,
     "points": [[float(p.x * w), float(p.y * h)] for p in lm.landmark]}
    for lm, c in zip(result.multi_hand_landmarks or [], result.multi_handedness or [])]

with open(os.path.join(here, "hand_golden.json"), "w") as f:
    json.dump(out, f, indent=1)
print("hands found by MediaPipe:", len(out["mediapipe_hands"]), "top palm logits:", [round(float(scores[i]), 2) for i in top[:4]],
      "presence:", out["landmark"]["Identity_1"], "handedness:", out["landmark"]["Identity_2"])
