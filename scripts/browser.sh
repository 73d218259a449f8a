#!/usr/bin/env bash
# Installs the browser the web IDE's tests drive: Debian's Chromium (apt,
# as ../shared/TESTING.md says; Playwright's own download is never used,
# it fetches from a CDN). Idempotent: nothing to do when it is there.
set -euo pipefail
chromium=/usr/bin/chromium
if [ -x "$chromium" ]; then
  "$chromium" --version
  exit 0
fi
command -v apt-get >/dev/null || { echo "browser.sh: no apt-get; install Chromium at $chromium" >&2; exit 1; }
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
echo "installing Debian's chromium (apt-get)" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
"$chromium" --version
