#!/usr/bin/env bash
# The benchmark matrix: builds the release binaries, then runs `saga-bench matrix` (SQLite
# and PostgreSQL; concurrency 1, 16, 64, 256; 0 % and 10 % compensating; SQLite with
# synchronous=normal at 1 and 64; 1, 2, 4 orchestrator replicas on PostgreSQL at
# concurrency 64; then open loops on SQLite at 0.5, 1, 2 and 3 times the best closed-loop
# SQLite throughput; 3 runs of 3 s per phase per cell, medians), which writes bench/results/matrix.{md,svg,json} and prints their paths.
# PostgreSQL: the server SAGA_TEST_POSTGRES_URL names, else a throwaway one when the
# server binaries are installed (scripts/postgres.sh), else the PostgreSQL half is skipped.
# Extra arguments go to `saga-bench matrix` (e.g. --runs 5 --duration 5).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --bins
if [ -z "${SAGA_TEST_POSTGRES_URL:-}" ]; then
  # shellcheck source=scripts/postgres.sh
  source scripts/postgres.sh || echo "== no PostgreSQL server binaries: the PostgreSQL half is SKIPPED"
fi
"${CARGO_TARGET_DIR:-target}/release/saga-bench" matrix --out bench/results "$@"
