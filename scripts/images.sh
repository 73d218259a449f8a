#!/usr/bin/env bash
# Builds the rat-runner and rat (server) images offline, with no base image
# (deploy/images/build.py: the binaries, the libraries they load, DuckDB's
# httpfs extension, CA certificates, a non-root user; Python with pyarrow
# and duckdb in the runner), as OCI layouts under OUT (target/images by
# default). Prints each image's summary (digest, layer size) as JSON.
#
#   scripts/images.sh [--release] [--out DIR] [--tag TAG] [--forbid VALUE]...
#   skopeo copy oci:target/images/rat-runner:TAG docker://REGISTRY/rat-runner:TAG
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
. scripts/env.sh
profile=debug out=target/images tag=dev forbid=()
while [ $# -gt 0 ]; do
  case "$1" in
    --release) profile=release ;;
    --out) out="$2"; shift ;;
    --tag) tag="$2"; shift ;;
    --forbid) forbid+=(--forbid "$2"); shift ;;
    *) echo "images.sh: unknown argument $1 (--release, --out DIR, --tag TAG, --forbid VALUE)" >&2; exit 2 ;;
  esac
  shift
done
scripts/duckdb-lib.sh >/dev/null
scripts/test-env.sh # the venv: DuckDB's httpfs extension and the runner's Python packages
. scripts/env.sh
flags=()
[ "$profile" = release ] && flags=(--release)
cargo build --locked "${flags[@]}" -p rat-runner -p rat-cloud-aws -p rat-cli --bins >&2
# The test keys of the loopback servers must never reach an image.
forbid+=(--forbid rat-test-admin-secret)
[ -n "${AWS_SECRET_ACCESS_KEY:-}" ] && forbid+=(--forbid "$AWS_SECRET_ACCESS_KEY")
for image in runner server; do
  name=$([ "$image" = runner ] && echo rat-runner || echo rat)
  python=()
  [ "$image" = runner ] && python=(--python "$RAT_VENV")
  python3 deploy/images/build.py "$image" --binaries "$CARGO_TARGET_DIR/$profile" \
    --duckdb-lib "$DUCKDB_LIB_DIR/libduckdb.so" --extensions "$RAT_DUCKDB_EXTENSION_DIR" \
    "${python[@]}" --tag "$tag" --out "$out/$name" "${forbid[@]}"
done
