#!/usr/bin/env bash
# Installs the npm packages of DIR from its lock file (npm registry only,
# no install scripts), again only when the lock file changed since.
#   scripts/npm-ci.sh DIR
set -euo pipefail
dir="${1:?usage: npm-ci.sh DIR}"
command -v npm >/dev/null || { echo "npm-ci.sh: npm not found; install Node.js 20+" >&2; exit 1; }
cd "$dir"
stamp="node_modules/.rat-lock.sha256"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
  echo "$want" > "$stamp"
fi
