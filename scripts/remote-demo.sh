#!/usr/bin/env bash
# The scale-out path in a minute, on this machine: starts the SeaweedFS the
# tests use (S3 + Iceberg REST catalog, scripts/test-services.sh), copies
# the sample project's pipelines into its bucket, and runs them with
# examples/remote/rat.yaml: the tables land in the bucket through the REST
# catalog. Then it lists them and queries one. SeaweedFS keeps running
# (`scripts/test-services.sh stop` stops it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
. scripts/env.sh
scripts/duckdb-lib.sh
scripts/test-env.sh
. scripts/env.sh # again: the venv holds DuckDB's httpfs extension
scripts/test-services.sh start seaweedfs
# The loopback server's test key (scripts/services/seaweedfs-iam.json).
export RAT_DEMO_S3_SECRET=rat-test-admin-secret
echo "==> the sample project's pipelines to s3://lake/sample-demo/" >&2
"$RAT_VENV/bin/python" - <<'PY'
import os
import boto3
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:8333", region_name="us-east-1",
                  aws_access_key_id="rat-test-admin",
                  aws_secret_access_key=os.environ["RAT_DEMO_S3_SECRET"])
root = "examples/sample-project"
for folder, _, files in os.walk(root):
    for name in files:
        path = os.path.join(folder, name)
        s3.upload_file(path, "lake", "sample-demo/" + os.path.relpath(path, root))
PY
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rat() { scripts/rat --project "$work" --config examples/remote/rat.yaml "$@"; }
echo "==> rat run (S3 storage, Iceberg REST catalog)" >&2
rat run
echo "==> rat tables" >&2
rat tables
echo "==> rat query" >&2
rat query "SELECT country, sum(revenue) AS revenue FROM gold.revenue_by_country GROUP BY 1 ORDER BY 2 DESC LIMIT 3"
