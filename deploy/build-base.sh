#!/usr/bin/env bash
# Build a Debian bookworm base image with Python 3.11 from Debian packages alone, for machines
# that reach a Debian mirror but no image registry (no Docker Hub).
#   deploy/build-base.sh [TAG]        (default folio-base:bookworm; needs root and debootstrap)
# The mirror is this machine's own apt source (first deb.debian.org-style URI it finds), or
# $DEBIAN_MIRROR. About 3 minutes and ~280 MB here. A normal site skips this and builds the
# image FROM python:3.11-slim (the Dockerfile's default BASE_IMAGE).
set -euo pipefail
tag="${1:-folio-base:bookworm}"
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 2; }
mirror="${DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror=$(grep -hoE '^(URIs:|deb) +[a-z]+://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
    | grep -oE '[a-z]+://[^ ]+' | head -1 || true)
fi
mirror="${mirror:-http://deb.debian.org/debian}"
root=$(mktemp -d /var/tmp/folio-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "debootstrap bookworm from $mirror into $root" >&2
# python3 + venv (pip comes from the venv's bundled wheel); no libGL: the image uses headless OpenCV;
# ca-certificates for TLS to a Chroma or LLM server; libgomp1 (OpenMP) for the llama.cpp engine.
debootstrap --variant=minbase \
  --include=python3,python3-venv,ca-certificates,libgomp1 \
  bookworm "$root" "$mirror" >&2
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/* "$root"/usr/share/doc/* \
  "$root"/usr/share/man/* "$root"/usr/share/info/*
# Same names as the official python image, so the Dockerfile runs unchanged on either base.
ln -sf /usr/bin/python3 "$root"/usr/local/bin/python
tar -C "$root" --numeric-owner -c . | docker import \
  -c 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'CMD ["python3"]' -m "debootstrap --variant=minbase bookworm + python3" - "$tag" >&2
docker image ls "$tag"
