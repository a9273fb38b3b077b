#!/usr/bin/env bash
# The test command: `cargo test --workspace` on SQLite, and on PostgreSQL too. It starts a
# throwaway PostgreSQL server when the server binaries are installed (or uses the one
# SAGA_TEST_POSTGRES_URL names); without them it says so and runs the SQLite half only.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${SAGA_TEST_POSTGRES_URL:-}" ]; then
  # shellcheck source=scripts/postgres.sh
  if ! source scripts/postgres.sh; then
    echo "== PostgreSQL server binaries not found: the PostgreSQL half of the tests is SKIPPED."
    echo "   (install PostgreSQL, or set SAGA_TEST_POSTGRES_URL=postgres://USER@HOST:PORT/DB)"
  fi
else
  echo "== PostgreSQL: using $SAGA_TEST_POSTGRES_URL"
  if [ -z "${SAGA_TEST_POSTGRES_DATA:-}" ]; then
    echo "   (SAGA_TEST_POSTGRES_DATA is not set: the chaos campaigns do not restart the server)"
  fi
fi

cargo test --workspace "$@"

if [ -z "${SAGA_TEST_POSTGRES_URL:-}" ]; then
  echo "== note: the PostgreSQL half of the tests was SKIPPED (no server)."
fi
