#!/usr/bin/env bash
# Run the whole test suite the way CI does: lint and the import contracts, then pytest.
# Services that tests need are started here and stopped on exit, whatever happens:
# the remote-backend and data-plane tests run against region $GRANARY_TEST_REGION
# (default "test"), brought up by ops/region and taken down again on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

"$BIN/ruff" check .
# The layer contracts of pyproject's [tool.importlinter]: a broken one fails the run.
"$BIN/lint-imports" --no-logo

export GRANARY_TEST_REGION=${GRANARY_TEST_REGION:-test}
PREBUILD=""
cleanup() {  # runs under set -e: nothing in it may fail
    if [[ -n "$PREBUILD" ]]; then
        pkill -P "$PREBUILD" 2>/dev/null || true
        kill "$PREBUILD" 2>/dev/null || true
    fi
    bash ops/region down "$GRANARY_TEST_REGION" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# A region that cannot start fails the run here, with the script's own output.
bash ops/region up "$GRANARY_TEST_REGION"
bash ops/spark.sh jars >/dev/null  # the Delta and S3A jars of tests/spark, once (~10 s cold)

# The Go tools of the Terraform and Kubernetes tests (OpenTofu, the provider and its Go tests,
# kube-apiserver) build in the background while the tests before them run: many minutes on
# a fresh machine, nothing once cached. The tests' fixtures wait on the same build locks,
# and report a failed build themselves.
mkdir -p .cache
(bash ops/terraform.sh all && bash ops/kube.sh build && bash ops/terraform.sh test-build) >.cache/prebuild.log 2>&1 &
PREBUILD=$!

set +e
"$BIN/pytest" -q --durations=30 "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure" >&2
    exit 1
fi
exit "$status"
