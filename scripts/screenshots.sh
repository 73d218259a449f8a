#!/usr/bin/env bash
# Copies the screenshots the browser tests took (tests/browser.rs writes
# them to $CARGO_TARGET_DIR/ui-screenshots/) into docs/screenshots/, the
# ones the README shows. Run the browser tests first:
#   cargo nextest run -p rat-server --test browser
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"
from="$CARGO_TARGET_DIR/ui-screenshots"
to="$here/../docs/screenshots"
shown=(home pipeline-error pipeline-preview pipeline-versions pipeline-settings pipeline-draft run runs table query lineage landing schedules settings login home-390)
mkdir -p "$to"
for name in "${shown[@]}"; do
  [ -f "$from/$name.png" ] || { echo "screenshots.sh: no $from/$name.png; run the browser tests first" >&2; exit 1; }
  cp "$from/$name.png" "$to/$name.png"
done
echo "copied ${#shown[@]} screenshots to docs/screenshots/"
