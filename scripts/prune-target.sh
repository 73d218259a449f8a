#!/usr/bin/env bash
# Keeps the persistent target dir from growing without bound: every change
# of a dependency or feature leaves the previous test and bench executables
# (hundreds of MB each, with debug info) behind in deps/. Keeps the newest
# executable per name, drops the others.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"
deps="$CARGO_TARGET_DIR/debug/deps"
[ -d "$deps" ] || exit 0
find "$deps" -maxdepth 1 -type f -perm -u+x ! -name '*.so' ! -name '*.rlib' ! -name '*.rmeta' ! -name '*.d' -printf '%T@ %f\n' |
  sort -rn |
  awk '{ name = $2; sub(/-[0-9a-f]+$/, "", name); if (seen[name]++) print $2 }' |
  while read -r stale; do rm -f "$deps/$stale"; done
