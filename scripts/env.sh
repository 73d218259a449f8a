# Shared environment for rat's scripts: source it, do not run it.
#
# One persistent target dir for sessions, CI and the README commands, so
# repeated builds are incremental; one prebuilt libduckdb (see duckdb-lib.sh)
# that every binary finds through its rpath.
RAT_CACHE="${RAT_CACHE:-$HOME/.cache/rat}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$RAT_CACHE/target}"
export DUCKDB_LIB_DIR="${DUCKDB_LIB_DIR:-$RAT_CACHE/duckdb-1.5.5}"
export RAT_VENV="${RAT_VENV:-$RAT_CACHE/venv}"
# Added once: a changed RUSTFLAGS string would rebuild everything.
case " ${RUSTFLAGS:-} " in
  *" link-arg=-Wl,-rpath,$DUCKDB_LIB_DIR "*) ;;
  *) export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C link-arg=-Wl,-rpath,$DUCKDB_LIB_DIR" ;;
esac
# DuckDB's httpfs extension (reading s3:// files) from the test venv's wheel,
# once scripts/test-env.sh has made it.
if [ -z "${RAT_DUCKDB_EXTENSION_DIR:-}" ]; then
  for d in "$RAT_VENV"/lib/python3*/site-packages/duckdb_extension_httpfs/extensions/v1.5.5; do
    if [ -f "$d/httpfs.duckdb_extension" ]; then export RAT_DUCKDB_EXTENSION_DIR="$d"; fi
  done
fi
# Python pipelines run with the venv's interpreter (pyarrow, duckdb) unless
# RAT_PYTHON names another.
if [ -z "${RAT_PYTHON:-}" ] && [ -x "$RAT_VENV/bin/python" ]; then
  export RAT_PYTHON="$RAT_VENV/bin/python"
fi
true # sourced under `set -e`: a missing venv is not an error here
