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
# transformers ships 560 model families; the MiniLM embedder imports these 23 (checked with
# sys.modules after loading the embedder, ingest, retrieval and the web app): -105 MB.
keep="align auto bert blenderbot blenderbot_small encoder_decoder longt5 m2m_100 marian moonshine
mt5 paligemma pegasus pegasus_x prophetnet switch_transformers t5 t5gemma t5gemma2 timm_wrapper
udop umt5 whisper"
for d in "$site"/transformers/models/*/; do
  name=$(basename "$d")
  case " $(echo $keep) " in *" $name "*) ;; *) rm -rf "$d" ;; esac
done
# Babel's locale data for the two languages the web app speaks (and the root locale): -33 MB.
find "$site"/babel/locale-data -name '*.dat' ! -name 'root.dat' ! -name 'en*' ! -name 'zh*' -delete
# Headers, test suites and build helpers nobody imports at run time.
# torch/bin keeps torch_shm_manager, which `import torch` looks for.
find "$site"/torch/bin -type f ! -name torch_shm_manager -delete
find "$site" -mindepth 2 -type d \( -name tests -o -name test \) -prune -exec rm -rf {} +
rm -rf "$site"/torch/include "$site"/torch/share \
       "$site"/torch/lib/libtorchbind_test.so "$site"/torch/lib/libjitbackend_test.so \
       "$site"/torch/lib/libaoti_custom_ops.so "$site"/torch/lib/libbackend_with_compiler.so \
       "$site"/pip "$site"/pip-*.dist-info \
       "$site"/setuptools "$site"/setuptools-*.dist-info
# Symbols and debug info in the two biggest libraries (torch 434 -> 345 MB, xllamacpp 102 -> 30
# MB). Only these: stripping the libraries auditwheel vendored (numpy.libs, ...) breaks them.
strip --strip-unneeded "$site"/torch/lib/libtorch_cpu.so "$site"/torch/lib/libtorch_python.so \
      "$site"/xllamacpp/*.so
# The build fails here, not at a site, if a cut above broke an import Folio needs.
"$venv/bin/python" -c "import numpy, scipy, cv2, torch, onnxruntime, xllamacpp, chromadb, \
sentence_transformers, rapidocr_onnxruntime, jieba, cli.main, web.app, ingest.pipeline"
# llama.cpp alone, as the engine process imports it (torch would have loaded its own libgomp).
"$venv/bin/python" -c "import xllamacpp" 2>/dev/null || echo "note: xllamacpp needs libgomp1 at run time"
