#!/usr/bin/env bash
# A PostgreSQL for the tests: installs it when missing (Debian, as root), runs a private
# cluster listening only on 127.0.0.1 with its files under /tmp, creates a role and a
# database for the tests, and prints the line to eval:
#   eval "$(./scripts/postgres.sh)"   # sets TESSERA_TEST_POSTGRES_URL
#   ./scripts/postgres.sh restart     # restarts the running cluster (fast shutdown: the
#                                     # connections are cut), for faults under load
# Idempotent (a running cluster is reused) and quiet on success; details go to
# $PGROOT/setup.log and $PGROOT/server.log.
set -euo pipefail

PGROOT=${TESSERA_PG_DIR:-/tmp/tessera-pg}
PORT=${TESSERA_PG_PORT:-55432}
ROLE=tessera
PASSWORD=tessera
DB=tessera_test

fail() { echo "postgres.sh: $*" >&2; exit 1; }

find_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

BIN=$(find_bin || true)
if [ -z "$BIN" ]; then
  [ "$(id -u)" = 0 ] || fail "PostgreSQL is not installed and we are not root: install the postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq postgresql; } >/dev/null 2>&1 || fail "apt-get install postgresql failed"
  BIN=$(find_bin) || fail "postgresql installed but initdb not found"
fi

# Run the server as the postgres user when we are root (it refuses to run as root).
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$PGROOT" --shell /usr/sbin/nologin postgres
  as_pg() { runuser -u postgres -- "$@"; }
  SUPER=postgres
else
  as_pg() { "$@"; }
  SUPER=$(id -un)
fi

mkdir -p "$PGROOT"
[ "$(id -u)" = 0 ] && chown postgres: "$PGROOT"
chmod 700 "$PGROOT"
LOG="$PGROOT/setup.log"
DATA="$PGROOT/data"

exec 9>"$PGROOT.lock"   # one setup at a time
flock 9

if [ ! -s "$DATA/PG_VERSION" ]; then
  # Local connections (a socket in the private $PGROOT) are trusted; TCP needs a password.
  as_pg "$BIN/initdb" -D "$DATA" -U "$SUPER" --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >>"$LOG" 2>&1 \
    || fail "initdb failed (see $LOG)"
fi

if ! as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  as_pg "$BIN/pg_ctl" -D "$DATA" -l "$PGROOT/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$PGROOT -c max_connections=200 -c fsync=off" \
    start >>"$LOG" 2>&1 9>&- || fail "the cluster did not start (see $LOG and $PGROOT/server.log)"
fi

if [ "${1:-}" = restart ]; then
  as_pg "$BIN/pg_ctl" -D "$DATA" -l "$PGROOT/server.log" -w -t 30 -m fast \
    -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$PGROOT -c max_connections=200 -c fsync=off" \
    restart >>"$LOG" 2>&1 9>&- || fail "the cluster did not restart (see $LOG and $PGROOT/server.log)"
fi

psql_admin() { as_pg "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGROOT" -p "$PORT" -U "$SUPER" -d postgres "$@"; }

psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'" | grep -q 1 \
  || psql_admin -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD' CREATEDB" >>"$LOG" 2>&1 \
  || fail "cannot create role $ROLE (see $LOG)"
psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 \
  || psql_admin -c "CREATE DATABASE $DB OWNER $ROLE" >>"$LOG" 2>&1 \
  || fail "cannot create database $DB (see $LOG)"

echo "export TESSERA_TEST_POSTGRES_URL=postgres://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB"
