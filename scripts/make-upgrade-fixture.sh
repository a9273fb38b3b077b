#!/usr/bin/env bash
# Writes the upgrade fixture: the databases of a stack of an earlier release, cut off by a
# SIGKILL of its orchestrator while sagas are in flight in every state. The upgrade test
# starts the current release on copies of them; every saga must finish consistent.
#
# Usage: scripts/make-upgrade-fixture.sh BIN_DIR OUT_DIR [sqlite|postgres]
#   BIN_DIR: release binaries of the earlier release (orchestrator, orders-svc,
#   invoices-svc, saga), e.g. from `git worktree add /tmp/old REV && cargo build
#   --release --bins` there. OUT_DIR gets orchestrator.db, orders.db and invoices.db
#   (sqlite) or orchestrator.sql, orders.sql and invoices.sql (postgres: plain dumps of
#   three fresh databases on the server $SAGA_TEST_POSTGRES_URL names).
set -euo pipefail
bin=$(cd "$1" && pwd)
out=$2
backend=${3:-sqlite}
mkdir -p "$out"
work=$(mktemp -d /tmp/upgrade-fixture.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
url_of() {
  case $backend in
    sqlite) echo "sqlite://$work/$1.db" ;;
    postgres)
      local name="fixture_$1_$$"
      psql -q "$SAGA_TEST_POSTGRES_URL" -c "CREATE DATABASE $name" >/dev/null
      echo "${SAGA_TEST_POSTGRES_URL%/*}/$name" ;;
  esac
}
orders_db=$(url_of orders) invoices_db=$(url_of invoices) log_db=$(url_of orchestrator)
orders_port=$(free_port) invoices_port=$(free_port) orchestrator_port=$(free_port)

# Slow participants, so that sagas stand in every step when the orchestrator dies; some
# invoices outlast the call deadline, so that their creation gives up and is voided.
"$bin/orders-svc" --listen "127.0.0.1:$orders_port" --database-url "$orders_db" \
  --faults "CreateOrder:delay=300:1,ConfirmOrder:delay=300:1,CancelOrder:delay=300:1" \
  --fault-seed 7 2>"$work/orders.log" & pids+=($!)
"$bin/invoices-svc" --listen "127.0.0.1:$invoices_port" --database-url "$invoices_db" \
  --max-invoice-cents 100000 \
  --faults "CreateInvoice:delay=900:0.5,CreateInvoice:delay=300:1,VoidInvoice:delay=300:1" \
  --fault-seed 7 2>"$work/invoices.log" & pids+=($!)
sleep 1
"$bin/orchestrator" --listen "127.0.0.1:$orchestrator_port" --database-url "$log_db" \
  --orders-url "http://127.0.0.1:$orders_port" --invoices-url "http://127.0.0.1:$invoices_port" \
  --replica-id fixture --call-timeout-ms 600 --max-attempts 2 --retry-base-ms 50 \
  --retry-max-ms 100 --seed 7 2>"$work/orchestrator.log" & orchestrator=$!
sleep 1

# Orders under and over the invoice limit, started one after another.
for i in $(seq 1 40); do
  price=$(( i % 4 == 0 ? 90000 : 1200 ))
  "$bin/saga" place --url "http://127.0.0.1:$orchestrator_port" --customer "fixture-$i" \
    --item "beans:2:$price" --key "fixture-$i" --wait-ms 1 >/dev/null &
  sleep 0.05
done
sleep 0.25
kill -KILL "$orchestrator"
wait "$orchestrator" 2>/dev/null || true
cleanup
pids=()

case $backend in
  sqlite)
    for db in orchestrator orders invoices; do
      python3 - "$work/$db.db" "$out/$db.db" <<'EOF'
import sqlite3, sys
source = sqlite3.connect(sys.argv[1])
target = sqlite3.connect(sys.argv[2])
source.backup(target)
target.close()
EOF
    done
    python3 - "$out/orchestrator.db" <<'EOF'
import collections, json, sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("SELECT state FROM sagas").fetchall()
print(collections.Counter(json.loads(s)["state"] for (s,) in rows))
EOF
    ;;
  postgres)
    for db in orchestrator orders invoices; do
      url_var="${db}_db"
      [ "$db" = orchestrator ] && url_var=log_db
      pg_dump --no-owner --no-privileges "${!url_var}" > "$out/$db.sql"
    done
    ;;
esac
echo "fixture written to $out"
