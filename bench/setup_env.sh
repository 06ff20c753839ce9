#!/usr/bin/env bash
# Create the SEPARATE benchmark environment .bench-venv that holds Feast.
#
# Feast is a peer we measure against, never a Granary dependency, so it lives in its
# own venv (its pins - e.g. redis<8 - would fight the project's). Idempotent: an
# existing venv whose Feast version matches is left alone.
#
# Usage: bash bench/setup_env.sh            (from anywhere)
#        FEAST_VERSION=0.67.0 bash bench/setup_env.sh
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${BENCH_VENV:-$REPO/.bench-venv}"
FEAST_VERSION="${FEAST_VERSION:-0.67.0}"
PY="${PYTHON:-python3}"

# feast[duckdb] pulls ibis-framework[duckdb], which is what Feast's DuckDB offline
# store is built on; feast[redis] pulls redis-py<8 + hiredis for the online store.
# pyarrow/pandas/duckdb are left to Feast's resolver so we measure what it picks.
PACKAGES=(
  "feast[redis,duckdb]==${FEAST_VERSION}"
  "duckdb"
)

if [[ -x "$VENV/bin/python" ]] \
  && "$VENV/bin/python" - "$FEAST_VERSION" <<'PYEOF' 2>/dev/null
import sys
from importlib.metadata import version
import feast, ibis, duckdb, redis  # noqa: F401  (all must import)
sys.exit(0 if version("feast") == sys.argv[1] else 1)
PYEOF
then
  echo "bench env ok: $VENV (feast $FEAST_VERSION)"
  exit 0
fi

echo "creating bench env $VENV (feast $FEAST_VERSION)"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "${PACKAGES[@]}"
"$VENV/bin/python" -c 'import feast, ibis, duckdb, redis, pyarrow, pandas; print("feast", feast.__version__, "ibis", ibis.__version__, "duckdb", duckdb.__version__, "redis", redis.__version__, "pyarrow", pyarrow.__version__, "pandas", pandas.__version__)'
