#!/usr/bin/env bash
# Creates the Python venv the tests use for interop (pyiceberg, duckdb) at
# $RAT_VENV, from scripts/requirements-test.txt. Idempotent: reinstalls only
# when the requirements change.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"

requirements="$here/requirements-test.txt"
stamp="$RAT_VENV/.rat-requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ -x "$RAT_VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
python="${RAT_PYTHON:-python3}"
command -v "$python" >/dev/null || { echo "test-env.sh: $python not found; install Python 3.10+" >&2; exit 1; }
echo "creating the test venv at $RAT_VENV" >&2
"$python" -m venv "$RAT_VENV"
"$RAT_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
echo "$want" > "$stamp"
