#!/bin/sh
# Shrink Folio's virtualenv for the image (run in the build stage only; the runtime stage copies
# the result, so nothing removed here costs a layer). Each cut was measured on the image
# (docs/ARCHITECTURE.md, "The image"); none removes anything Folio imports.
set -eu
venv="${1:-/opt/folio}"
site=$(echo "$venv"/lib/python3*/site-packages)
pip="$venv/bin/pip"
# OpenCV without its GUI: the OCR engine only decodes and transforms images. The headless build
# needs no libGL and drops Qt, ffmpeg and X libraries (~200 MB).
cv=$("$pip" show opencv-python 2>/dev/null | sed -n 's/^Version: //p')
if [ -n "$cv" ]; then
  "$pip" uninstall -q -y opencv-python
  "$pip" install -q --no-deps "opencv-python-headless==$cv"
fi
# chromadb's Kubernetes client serves its distributed mode only; Folio uses the embedded store
# or the HTTP client (126 MB).
"$pip" uninstall -q -y kubernetes || true
# Headers, test suites and build helpers nobody imports at run time.
rm -rf "$site"/torch/include "$site"/torch/test "$site"/torch/bin "$site"/torch/share \
       "$site"/torch/lib/lib*test*.so "$site"/torch/lib/libaoti_custom_ops.so \
       "$site"/torch/lib/libbackend_with_compiler.so \
       "$site"/chromadb/test "$site"/*/tests "$site"/pip "$site"/pip-*.dist-info \
       "$site"/setuptools "$site"/setuptools-*.dist-info
# Symbols nothing links against, and the debug info some wheels ship (xllamacpp: 102 -> 30 MB).
find "$site" -name '*.so*' -type f -exec strip --strip-unneeded {} + 2>/dev/null || true
find "$venv" -name '__pycache__' -path '*/tests/*' -prune -exec rm -rf {} + 2>/dev/null || true
