#!/usr/bin/env bash
# Old beside new: saga-bench of two builds, alternating run by run on SQLite, closed
# loop, so that both see the same machine. Prints one line per run and writes the JSON
# of every run to OUT (default ab.jsonl). BENCH_ARGS go to every run (e.g.
# `--backend postgres`).
# Usage: bench/ab.sh OLD_RELEASE_DIR NEW_RELEASE_DIR [ROUNDS] [CONCURRENCIES...]
#   e.g. git worktree add /tmp/old REV && (cd /tmp/old && CARGO_TARGET_DIR=/tmp/old-target
#   cargo build --release --bins); bench/ab.sh /tmp/old-target/release target/release 3 1 16 64
set -euo pipefail
old=$1 new=$2 rounds=${3:-3}
shift $(( $# < 3 ? $# : 3 ))
concurrencies=${*:-1 16 64}
out=${OUT:-ab.jsonl}
: > "$out"
for round in $(seq 1 "$rounds"); do
  for c in $concurrencies; do
    for side in old new; do
      dir=$old; [ "$side" = new ] && dir=$new
      run=$("$dir/saga-bench" --concurrency "$c" --duration 8 --no-floor --json --quiet ${BENCH_ARGS:-})
      echo "{\"side\":\"$side\",\"concurrency\":$c,\"round\":$round,\"run\":$run}" >> "$out"
      echo "$run" | python3 -c '
import json, sys
r = json.load(sys.stdin)["saga"]
print(sys.argv[1], "c=" + sys.argv[2], round(r["sagas_per_s"]), "sagas/s p50",
      r["latency"]["p50_ms"], "p99", r["latency"]["p99_ms"],
      "orchestrator ms/saga", round(r["cpu_s_per_saga"].get("orchestrator", 0) * 1000, 2))
' "$side" "$c"
    done
  done
done
