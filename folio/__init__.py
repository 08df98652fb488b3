"""Folio: answers from your manuals, with the page they came from."""

import os

# ONNX Runtime (the query embedder, and rapidocr's OCR in the parser worker) sends telemetry to
# Microsoft from Linux too since 1.29 (a 1DS uploader resolving mobile.events.data.microsoft.com),
# unless this is set before it initialises; it is the complete opt-out. Folio sends nothing
# off the machine: tests/test_egress.py caught the lookups once queries moved to ONNX Runtime.
# Set here, on the package every entry point imports, so child processes inherit it.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

__version__ = "0.1.0"
