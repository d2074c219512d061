#!/usr/bin/env bash
# Runs CMD ARGS... next to a throw-away redis-server on a free loopback port.
#
# Exports for the command:
#   BASTION_TEST_REDIS_URL            redis://127.0.0.1:PORT
#   BASTION_TEST_REDIS_PID            the server's PID (a test may kill it)
#   BASTION_TEST_REDIS_PORT           PORT
#   BASTION_TEST_REDIS_PASSWORD_FILE  file holding the generated password (unless
#                                     BASTION_TEST_REDIS_NOAUTH=1)
#   BASTION_TEST_REDIS_SERVER         path of redis-server (to start another on the same port)
#   BASTION_TEST_REDIS_CONF           its config file (holds requirepass; not on argv)
# The server runs in a mktemp -d directory, without persistence, and is stopped by PID on exit.
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

server=${REDIS_SERVER:-$(command -v redis-server || true)}
if [[ -z "$server" ]]; then
  echo "redis.sh: redis-server not found (apt-get install redis-server)" >&2
  exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/bastion-redis.XXXXXX")
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then
    # The test may already have killed it. bash reaps its children as they exit, so kill -0
    # fails once it is gone; escalate to SIGKILL after 5 s.
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

conf="$dir/redis.conf"
: > "$conf"
chmod 600 "$conf"
if [[ "${BASTION_TEST_REDIS_NOAUTH:-0}" != 1 ]]; then
  password=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
  printf '%s\n' "$password" > "$dir/password"
  chmod 600 "$dir/password"
  printf 'requirepass %s\n' "$password" >> "$conf"
  export BASTION_TEST_REDIS_PASSWORD_FILE="$dir/password"
fi

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A port can be taken between the probe and the bind: try a few.
started=0
for _ in $(seq 1 20); do
  port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
  port_in_use "$port" && continue
  "$server" "$conf" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --dir "$dir" --logfile "$dir/redis.log" &
  pid=$!
  for _ in $(seq 1 200); do
    if grep -q "Ready to accept connections" "$dir/redis.log" 2>/dev/null; then
      started=1
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.025
  done
  [[ $started == 1 ]] && break
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
done
if [[ $started != 1 ]]; then
  echo "redis.sh: could not start redis-server" >&2
  cat "$dir/redis.log" >&2 2>/dev/null || true
  exit 1
fi

export BASTION_TEST_REDIS_URL="redis://127.0.0.1:$port"
export BASTION_TEST_REDIS_PORT="$port"
export BASTION_TEST_REDIS_PID="$pid"
export BASTION_TEST_REDIS_SERVER="$server"
export BASTION_TEST_REDIS_CONF="$conf"

set +e
"$@"
status=$?
set -e
exit "$status"
