#!/usr/bin/env bash
# The whole suite: lint, import-layer contracts, pytest on SQLite, then pytest on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PG_URL="${STOREOPS_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
# Tests run in parallel processes (pytest-xdist): each has its own database, ports and data
# dir, and most of a test's time is waiting on loopback HTTP and the worker threads.
# STOREOPS_TEST_WORKERS=0 runs them in this one process.
WORKERS="${STOREOPS_TEST_WORKERS:-2}"
PARALLEL=()
if [ "$WORKERS" != "0" ]; then PARALLEL=(-n "$WORKERS"); fi

echo "== ruff"; $BIN/ruff check src tests
echo "== import-layer contracts"; $BIN/lint-imports --no-cache
echo "== mypy"; $BIN/mypy

echo "== pytest on SQLite (embedded default)"
STOREOPS_TEST_DATABASE=sqlite $BIN/pytest "${PARALLEL[@]}" "$@"

if $BIN/python -c "import psycopg,sys; psycopg.connect('$PG_URL', connect_timeout=3).close()" 2>/dev/null; then
  echo "== pytest on PostgreSQL ($PG_URL)"
  # Only the tests that use a database run again (tests/conftest.py deselects the others);
  # the browser tests do not depend on the backend either: they ran once above.
  STOREOPS_TEST_DATABASE="$PG_URL" $BIN/pytest "${PARALLEL[@]}" -m "not browser" "$@"
elif [ "${STOREOPS_TEST_REQUIRE_POSTGRES:-0}" = "1" ]; then
  echo "PostgreSQL at $PG_URL is required (STOREOPS_TEST_REQUIRE_POSTGRES=1) but not reachable" >&2
  exit 1
else
  echo "== PostgreSQL not reachable at $PG_URL: skipped the PostgreSQL run (set STOREOPS_TEST_POSTGRES_URL)"
fi
