#!/usr/bin/env bash
# The whole suite: lint, import-layer contracts, pytest on SQLite, then pytest on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PG_URL="${STOREOPS_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
# Tests run in three parallel processes (pytest-xdist): each has its own database, ports and
# data dir, and most of a test's time is waiting on loopback HTTP and worker threads, so on
# two cores three processes beat two (SQLite 5.8 vs 8.0 min, PostgreSQL 6.3 vs 7.8 min).
# STOREOPS_TEST_WORKERS=N sets the number; 0 runs everything in this one process.
WORKERS="${STOREOPS_TEST_WORKERS:-3}"
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
