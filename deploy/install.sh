#!/bin/sh
# Install Folio from this bundle on a machine without internet: verify every file against
# SHA256SUMS, and only then load the images into Docker. Any mismatch, missing or unlisted file
# stops it before anything is loaded.
#   ./install.sh            verify, docker load images/*.tar, say what to do next
#   ./install.sh --check    verify only (also for the wheelhouse, on a machine without Docker)
set -eu
cd "$(dirname "$0")"
check_only=false
case "${1:-}" in
  --check) check_only=true ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
command -v sha256sum >/dev/null || { echo "install.sh: sha256sum is missing (coreutils)" >&2; exit 2; }
[ -f SHA256SUMS ] || { echo "install.sh: SHA256SUMS is missing: refusing to install" >&2; exit 1; }

echo "verifying $(wc -l < SHA256SUMS) files against SHA256SUMS ..."
if ! out=$(sha256sum --check --strict --quiet SHA256SUMS 2>&1); then
  echo "$out" >&2
  echo "install.sh: the bundle does not match SHA256SUMS (altered or incomplete copy): refusing to install; nothing was loaded" >&2
  exit 1
fi
# A file the sums do not list (an image slipped in after the sums were made) is refused too.
listed=$(mktemp)
trap 'rm -f "$listed"' EXIT
sed 's/^[0-9a-f]\{64\} [ *]//' SHA256SUMS | sort > "$listed"
unlisted=$(find . -type f ! -name SHA256SUMS | sed 's|^\./||' | sort | comm -23 - "$listed")
if [ -n "$unlisted" ]; then
  echo "$unlisted" | sed 's/^/not in SHA256SUMS: /' >&2
  echo "install.sh: files not covered by SHA256SUMS: refusing to install; nothing was loaded" >&2
  exit 1
fi
echo "all files match SHA256SUMS; compare its own hash with the one you were given:"
sha256sum SHA256SUMS
$check_only && exit 0

command -v docker >/dev/null || { echo "install.sh: docker is not installed; for a pip install see INSTALL.md (wheelhouse)" >&2; exit 2; }
for tar in images/*.tar; do
  [ -e "$tar" ] || continue
  echo "loading $tar ..."
  docker load -i "$tar"
done
cat <<'NEXT'

Images loaded. Next:
  cp .env.example .env          # and edit it (profile gpu: VLLM_MODEL_DIR with gpt-oss-20b)
  docker compose -f compose.yaml --profile cpu up -d      # or --profile gpu
  docker compose -f compose.yaml exec folio-cpu folio users add admin --admin
Then open http://THIS-HOST:8000 and log in. INSTALL.md has the details.
NEXT
