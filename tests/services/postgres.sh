#!/bin/sh
# Runs a command against a throwaway PostgreSQL 15 cluster on a free loopback port:
#   tests/services/postgres.sh CMD ARGS...
# Exported to CMD:
#   BASTION_TEST_PG_URL            postgres://bastion@127.0.0.1:PORT/bastion?sslmode=disable (no password)
#   BASTION_TEST_PG_PASSWORD_FILE  the role's password, with a trailing newline
#   BASTION_TEST_PG_ADMIN_URL      superuser over the Unix socket (trust), for test setup
#   BASTION_TEST_PG_DATA_DIR       the cluster's data directory
#   BASTION_TEST_PG_STOP / _START  commands that stop (fast) and start the same cluster again
# TCP logins need a password (scram-sha-256); the role `bastion` may create databases.
# The cluster is stopped and its directory removed on exit. CMD is killed after
# BASTION_TEST_PG_CMD_TIMEOUT seconds (default 150), so a hung test still cleans up before an
# outer ctest TIMEOUT would kill this script.
set -eu

if [ "$#" -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

pg_bin=${BASTION_PG_BIN:-/usr/lib/postgresql/15/bin}
for tool in initdb pg_ctl psql; do
  if [ ! -x "$pg_bin/$tool" ] && ! command -v "$tool" >/dev/null 2>&1; then
    echo "postgres.sh: $tool not found in $pg_bin (set BASTION_PG_BIN)" >&2
    exit 1
  fi
done
[ -x "$pg_bin/initdb" ] || pg_bin=$(dirname "$(command -v initdb)")
cmd_timeout=${BASTION_TEST_PG_CMD_TIMEOUT:-150}

dir=$(mktemp -d "${TMPDIR:-/tmp}/bastion-pg.XXXXXX")
data="$dir/data"

# PostgreSQL refuses to run as root: run its tools as `postgres` in a directory it owns.
if [ "$(id -u)" -eq 0 ]; then
  chown postgres "$dir"
  as_pg() { su postgres -s /bin/sh -c "$1"; }
else
  as_pg() { sh -c "$1"; }
fi

started=0
child=
cleanup() {
  status=$?
  trap - EXIT INT TERM HUP
  if [ -n "$child" ]; then
    kill -TERM "$child" 2>/dev/null || true  # timeout(1) passes it on to CMD
    wait "$child" 2>/dev/null || true
  fi
  if [ "$started" -eq 1 ] && [ -f "$data/postmaster.pid" ]; then
    as_pg "'$dir/pg-stop'" >/dev/null 2>&1 || true
    # Still there (stop timed out): immediate shutdown of the postmaster by its recorded PID.
    if [ -f "$data/postmaster.pid" ]; then
      pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
      case "$pid" in
        ''|*[!0-9]*) ;;
        *) kill -QUIT "$pid" 2>/dev/null || true ;;  # immediate shutdown
      esac
    fi
  fi
  rm -rf "$dir"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# A port the kernel just handed out (python3), else a random high one; start-up retries cover races.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null ||
    echo $((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
}

as_pg "'$pg_bin/initdb' -D '$data' -A trust --auth-host=scram-sha-256 -U postgres -E UTF8 --locale=C --no-sync" \
  >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }

# Scripts run as the cluster's owner; stop.sh and start.sh (below) let a test restart the cluster.
write_pg_scripts() {
  printf '#!/bin/sh\nexec "%s/pg_ctl" -D "%s" -l "%s/server.log" -w -t 30 -o "-p %s -k %s -c listen_addresses=127.0.0.1" start\n' \
    "$pg_bin" "$data" "$dir" "$1" "$dir" >"$dir/pg-start"
  printf '#!/bin/sh\nexec "%s/pg_ctl" -D "%s" -m fast -w -t 30 stop\n' "$pg_bin" "$data" >"$dir/pg-stop"
  chmod 755 "$dir/pg-start" "$dir/pg-stop"
}

# A free port can be taken between probing and binding: a few attempts, each bounded by -t.
attempt=0
while :; do
  attempt=$((attempt + 1))
  port=$(free_port)
  write_pg_scripts "$port"
  started=1
  if as_pg "'$dir/pg-start'" >/dev/null 2>&1; then
    break
  fi
  if [ "$attempt" -ge 3 ]; then
    echo "postgres.sh: the server did not start; log follows" >&2
    cat "$dir/server.log" >&2 || true
    exit 1
  fi
done

password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
as_pg "'$pg_bin/psql' -X -q -v ON_ERROR_STOP=1 -h '$dir' -p $port -U postgres -d postgres" <<SQL >/dev/null
CREATE ROLE bastion LOGIN CREATEDB PASSWORD '$password';
CREATE DATABASE bastion OWNER bastion;
SQL
(umask 077 && printf '%s\n' "$password" >"$dir/password")

if [ "$(id -u)" -eq 0 ]; then
  printf '#!/bin/sh\nexec su postgres -s /bin/sh -c "%s/pg-stop"\n' "$dir" >"$dir/stop.sh"
  printf '#!/bin/sh\nexec su postgres -s /bin/sh -c "%s/pg-start"\n' "$dir" >"$dir/start.sh"
else
  printf '#!/bin/sh\nexec "%s/pg-stop"\n' "$dir" >"$dir/stop.sh"
  printf '#!/bin/sh\nexec "%s/pg-start"\n' "$dir" >"$dir/start.sh"
fi
chmod 755 "$dir/stop.sh" "$dir/start.sh"

export BASTION_TEST_PG_URL="postgres://bastion@127.0.0.1:$port/bastion?sslmode=disable"
export BASTION_TEST_PG_PASSWORD_FILE="$dir/password"
export BASTION_TEST_PG_ADMIN_URL="postgresql://postgres@/postgres?host=$dir&port=$port"
export BASTION_TEST_PG_DATA_DIR="$data"
export BASTION_TEST_PG_STOP="$dir/stop.sh"
export BASTION_TEST_PG_START="$dir/start.sh"

# In the background so a signal to this script runs the trap at once (not after CMD ends);
# stdin is passed through explicitly (a background job would get /dev/null).
exec 3<&0
timeout -k 5 "$cmd_timeout" "$@" <&3 3<&- &
child=$!
set +e
wait "$child"
rc=$?
set -e
child=
if [ "$rc" -eq 124 ]; then
  echo "postgres.sh: '$1' timed out after ${cmd_timeout}s" >&2
fi
exit "$rc"
