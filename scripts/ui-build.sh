#!/usr/bin/env bash
# Builds the web IDE's script bundle (rat-server/ui/assets/app.js) from
# rat-server/ui/web: npm ci from the lock file (npm registry only), then
# esbuild. The bundle is committed, so building rat needs no Node; with
# --check, builds into a temporary file and fails when the committed
# bundle differs (CI runs that).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
web="$here/../rat-server/ui/web"
committed="$here/../rat-server/ui/assets/app.js"
"$here/npm-ci.sh" "$web"
cd "$web"
out="$committed"
if [ "${1:-}" = "--check" ]; then
  out="$(mktemp --suffix=.js)"
  trap 'rm -f "$out"' EXIT
fi
banner="/* rat web IDE (rat-server/ui/web, built by scripts/ui-build.sh). Bundles CodeMirror 6 and Lezer, MIT License, Copyright (C) 2018-2021 Marijn Haverbeke and others; and yaml, ISC License, Copyright Eemeli Aro. */"
node_modules/.bin/esbuild src/app.js --bundle --minify --format=iife --target=es2020 \
  --legal-comments=none --banner:js="$banner" --log-level=warning --outfile="$out"
if [ "${1:-}" = "--check" ]; then
  if ! cmp -s "$out" "$committed"; then
    echo "rat-server/ui/assets/app.js is not what rat-server/ui/web builds: run scripts/ui-build.sh and commit it" >&2
    exit 1
  fi
  echo "the web IDE bundle is current"
fi
ls -l "$committed" | awk '{print "app.js:", $5, "bytes"}'
