#!/usr/bin/env bash
# Starts a throwaway PostgreSQL for the tests: a fresh cluster in a temporary folder on a
# free loopback port, removed again when the sourcing shell exits. As root it runs the
# server as the `postgres` user (initdb and pg_ctl refuse root).
# Usage: source scripts/postgres.sh  ->  $SAGA_TEST_POSTGRES_URL names the server;
# $SAGA_TEST_POSTGRES_DATA (its data folder), $SAGA_TEST_POSTGRES_BIN (the folder of
# pg_ctl) and $SAGA_TEST_POSTGRES_LOG (its log) let the chaos runner restart it.
# Returns 1 (and starts nothing) when no PostgreSQL server binaries are installed.

pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin /usr/local/pgsql/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

start_postgres() {
  local bin dir port major options
  bin=$(pg_bin) || return 1
  dir=$(mktemp -d /tmp/saga-pg.XXXXXX)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
         echo $((20000 + RANDOM % 20000)))
  as_owner() { "$@"; }
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --create-home postgres
    chown postgres "$dir"
    as_owner() { (cd "$dir" && runuser -u postgres -- "$@"); }
  fi
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null || return 1
  # The services pin their own isolation: the tests run with a stricter default so that a
  # write that forgot to would show.
  options="-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=500"
  options="$options -c 'default_transaction_isolation=repeatable read'"
  # After a crash (the chaos runner restarts the server with -m immediate) the server syncs
  # its data folder before recovery: one syncfs, not an fsync per file (14+, Linux).
  major=$("$bin/postgres" --version | awk '{print $3}')
  major=${major%%[!0-9]*}
  if [ "${major:-0}" -ge 14 ] && [ "$(uname -s)" = Linux ]; then
    options="$options -c recovery_init_sync_method=syncfs"
  fi
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o "$options" start >/dev/null || {
      cat "$dir/server.log" >&2; return 1; }
  SAGA_PG_DIR=$dir SAGA_PG_BIN=$bin
  trap 'stop_postgres' EXIT
  export SAGA_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
  export SAGA_TEST_POSTGRES_DATA="$dir/data" SAGA_TEST_POSTGRES_BIN="$bin"
  export SAGA_TEST_POSTGRES_LOG="$dir/server.log"
  echo "== PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (throwaway, $dir)"
}

stop_postgres() {
  [ -n "${SAGA_PG_DIR:-}" ] || return 0
  if [ "$(id -u)" = 0 ]; then
    (cd "$SAGA_PG_DIR" && runuser -u postgres -- "$SAGA_PG_BIN/pg_ctl" -D "$SAGA_PG_DIR/data" -m immediate stop) >/dev/null 2>&1
  else
    "$SAGA_PG_BIN/pg_ctl" -D "$SAGA_PG_DIR/data" -m immediate stop >/dev/null 2>&1
  fi
  rm -rf "$SAGA_PG_DIR"
  SAGA_PG_DIR=
}

start_postgres
