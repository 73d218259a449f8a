#!/usr/bin/env bash
# Lints the AWS template (deploy/aws/rat-platform.yaml): cfn-lint, then
# checkov with no failed check (each skip is justified in the template's
# Metadata). The linters live in a venv of their own at
# $RAT_CACHE/deploy-venv, from scripts/requirements-deploy.txt; checkov
# runs offline (no download of policies or guidelines).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
. scripts/env.sh
venv="$RAT_CACHE/deploy-venv"
requirements=scripts/requirements-deploy.txt
stamp="$venv/.rat-requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/checkov" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "lint-deploy: creating $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  echo "$want" > "$stamp"
fi
template=deploy/aws/rat-platform.yaml
"$venv/bin/cfn-lint" "$template"
echo "cfn-lint: clean"
# --skip-download and BC_SKIP_MAPPING keep checkov off the network.
BC_SKIP_MAPPING=TRUE "$venv/bin/checkov" --file "$template" --framework cloudformation \
  --skip-download --compact --quiet
