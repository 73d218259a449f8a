#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this). Installs what the
# tests need (prebuilt libduckdb, the Python venv), then: formatting, one
# shared build, the tests, lints, the dependency check and a benchmark smoke
# run. Every step is bounded; the target dir persists between runs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
. scripts/env.sh
NEXTEST_VERSION=0.9.143

step() { printf '\n==> %s\n' "$*"; }

step "fetch libduckdb 1.5.5";  scripts/duckdb-lib.sh
step "python test venv";       timeout 900 scripts/test-env.sh
. scripts/env.sh # again: the venv now holds DuckDB's httpfs extension
step "browser for the web IDE tests (Debian Chromium)"; timeout 600 scripts/browser.sh
step "web IDE bundle is current"; timeout 300 scripts/ui-build.sh --check
step "AWS template lints (cfn-lint, checkov)"; timeout 600 scripts/lint-deploy.sh
step "OpenID Provider for the sign-in tests (npm)"; timeout 300 scripts/npm-ci.sh rat-server/tests/oidc
step "test servers (SeaweedFS, moto)"
trap 'scripts/test-services.sh stop' EXIT
timeout 300 scripts/test-services.sh start
step "test runner (cargo-nextest)"
# The suite runs under nextest (a process per test, a hung test killed:
# .config/nextest.toml); installed from crates.io where it is missing.
# The tests pass under plain `cargo test` too: none relies on its process.
if ! cargo nextest --version >/dev/null 2>&1; then
  timeout 1800 cargo install --locked cargo-nextest --version "$NEXTEST_VERSION"
fi
step "prune stale test binaries"; scripts/prune-target.sh
step "cargo fmt";              cargo fmt --all -- --check
step "build";                  cargo build --workspace --all-targets --locked
step "tests"
timeout 1800 cargo nextest run --workspace --locked --no-fail-fast
step "doc tests";              timeout 900 cargo test --workspace --locked --doc
step "clippy";                 cargo clippy --workspace --all-targets --locked -- -D warnings
step "one arrow major (cargo tree -d)"
if cargo tree -d -e normal --workspace --locked | grep -E '^(arrow|parquet|duckdb|iceberg)[a-z-]* v'; then
  echo "duplicate versions of a heavy crate (above); keep one" >&2
  exit 1
fi
step "embedding example"
example_dir="$(mktemp -d)"
timeout 120 "$CARGO_TARGET_DIR/debug/rat-example-embedding" "$example_dir" | tail -4
rm -rf "$example_dir"
step "the scale-out demo (README): the sample project on SeaweedFS"
timeout 300 scripts/remote-demo.sh | tail -6
step "benchmark smoke runs"
timeout 300 "$CARGO_TARGET_DIR/debug/rat-benches" full-refresh --rows 200000 --repeat 1
timeout 300 "$CARGO_TARGET_DIR/debug/rat-benches" upsert --rows 200000 --repeat 1 --consecutive 10
timeout 300 "$CARGO_TARGET_DIR/debug/rat-benches" executors --runs 10
timeout 300 "$CARGO_TARGET_DIR/debug/rat-benches" remote --rows 200000 --repeat 1
timeout 300 "$CARGO_TARGET_DIR/debug/rat-benches" server --submissions 100
timeout 300 "$CARGO_TARGET_DIR/debug/rat-benches" query-scale --tables 200 --repeat 5
timeout 300 "$CARGO_TARGET_DIR/debug/rat-benches" append-history --runs 40 --scans 1
timeout 300 "$CARGO_TARGET_DIR/debug/rat-benches" python --runs 3 --rows 200000 --repeat 1
timeout 300 "$CARGO_TARGET_DIR/debug/rat-benches" upload --mib 64 --repeat 1
timeout 300 "$CARGO_TARGET_DIR/debug/rat-benches" authz --grants 1000 --repeat 10
timeout 300 "$CARGO_TARGET_DIR/debug/rat-benches" ui-runs --runs 1000 --repeat 3
timeout 300 "$CARGO_TARGET_DIR/debug/rat-benches" ui-lineage --pipelines 500 --repeat 1
step "ok"
