#!/usr/bin/env bash
# Fetches the prebuilt libduckdb.so 1.5.5 (the version the duckdb crate
# =1.10505.0 wraps) from the npm registry into $DUCKDB_LIB_DIR, so the
# project's own builds link it instead of compiling DuckDB from source
# (45 minutes of C++ on two cores). Idempotent; verifies the archive hash.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"

url="https://registry.npmjs.org/@duckdb/node-bindings-linux-x64/-/node-bindings-linux-x64-1.5.5-r.5.tgz"
sha256="86d2bda909785550e8a14a57a8a4584827aff0e268d8f1a58c3fd48559f7020e"

if [ -f "$DUCKDB_LIB_DIR/libduckdb.so" ]; then
  exit 0
fi
case "$(uname -sm)" in
  "Linux x86_64") ;;
  *) echo "duckdb-lib.sh: no prebuilt libduckdb for $(uname -sm); build with --features bundled" >&2; exit 1 ;;
esac
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "fetching libduckdb 1.5.5 into $DUCKDB_LIB_DIR" >&2
curl -fsSL --retry 3 --max-time 300 -o "$tmp/duckdb.tgz" "$url"
echo "$sha256  $tmp/duckdb.tgz" | sha256sum -c --quiet -
tar -xzf "$tmp/duckdb.tgz" -C "$tmp" package/libduckdb.so
mkdir -p "$DUCKDB_LIB_DIR"
mv "$tmp/package/libduckdb.so" "$DUCKDB_LIB_DIR/libduckdb.so.tmp"
mv "$DUCKDB_LIB_DIR/libduckdb.so.tmp" "$DUCKDB_LIB_DIR/libduckdb.so"
