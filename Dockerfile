# Folio on CPU. Build:  docker build -t folio .
# Run:                  docker run -p 8000:8000 -v folio-data:/app/data folio
# Everything the image needs is installed at build time; at run time it makes no network call
# (HF_HUB_OFFLINE, no telemetry). Point FOLIO_LLM_BASE_URL at a vLLM server to use a GPU box.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    ANONYMIZED_TELEMETRY=False \
    FOLIO_DATA_DIR=/app/data/index \
    FOLIO_HOST=0.0.0.0

WORKDIR /app
# OpenCV, which the OCR engine (rapidocr-onnxruntime) uses, loads libGL and GLib.
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*
# CPU torch first, so the dependency range below never pulls a CUDA build.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY folio ./folio
COPY ingest ./ingest
COPY retrieval ./retrieval
COPY generation ./generation
COPY web ./web
RUN pip install ".[engine]" \
 && folio --data-dir /app/data/index engine --install

COPY data/samples ./data/samples
RUN useradd --create-home folio && chown -R folio /app
USER folio
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"
CMD ["folio", "serve", "--host", "0.0.0.0", "--port", "8000"]
