#!/usr/bin/env bash
# scripts/integration.sh — the seed's CI flow without Docker: the real stack on loopback.
#
#   scripts/integration.sh       (ctest: integration_stack, label slow; about a minute)
#
# Starts PostgreSQL 15 (tests/services/postgres.sh) and Redis 7 (tests/services/redis.sh), then
# Bastion with the demo agent, its interaction store in PostgreSQL and a Redis-shared rate-limit
# zone (key ip, far too high to trip), and a Prometheus scraping Bastion's admin /metrics. Then:
#   1. the official MCP SDK client: initialize, tools/list, tools/call echo (tests/integration);
#   2. the short Artillery run (loadtest/run.sh short --target ...): 0 errors, only 2xx, every
#      JSON-RPC reply a result;
#   3. admin /healthz: checks database and redis both `pass`;
#   4. Prometheus's HTTP API: bastion_tool_calls_total for the echo calls, once scraped after
#      the load, equals the calls made (polled with a deadline);
#   5. bastion_recorder_dropped_total 0 on a last scrape; Bastion stopped with SIGTERM (flushes
#      the recorder) exits 0; rows of mcp_interactions in PostgreSQL (psql) == calls made.
# Everything it starts is stopped by PID on exit (trap), the services by their wrappers.
#
# Binaries: BASTION_BIN and BASTION_DEMO_AGENT, else build/dev. Needs: prometheus, psql, curl, jq,
# python3, node; the pinned npm peers in tests/integration and loadtest (installed by
# scripts/test.sh, or here by `npm ci` when missing).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
self="$root/scripts/integration.sh"

# PostgreSQL and Redis come from the service wrappers, which run this script again inside them
# and stop their server whatever happens.
if [ -z "${BASTION_TEST_PG_URL:-}" ]; then
  export BASTION_TEST_PG_CMD_TIMEOUT=${BASTION_TEST_PG_CMD_TIMEOUT:-420}
  exec "$root/tests/services/postgres.sh" "$self" "$@"
fi
if [ -z "${BASTION_TEST_REDIS_URL:-}" ]; then
  exec "$root/tests/services/redis.sh" "$self" "$@"
fi

t0=$(date +%s)
step() { printf '\n== [%3ds] %s\n' $(($(date +%s) - t0)) "$*"; }
fail() { echo "integration: FAIL: $*" >&2; exit 1; }

for tool in prometheus psql redis-cli curl jq python3 node npm; do
  command -v "$tool" >/dev/null || fail "$tool not found (scripts/install-deps.sh --test)"
done
: "${BASTION_TEST_REDIS_PASSWORD_FILE:?redis.sh started Redis without a password}"

find_bin() {  # NAME-IN-ENV RELATIVE-PATH
  local from_env=${!1:-}
  if [ -n "$from_env" ]; then
    [ -x "$from_env" ] || fail "$1=$from_env is not executable"
    echo "$from_env"; return
  fi
  [ -x "$root/build/dev/$2" ] || fail "$root/build/dev/$2 missing: cmake --preset dev && cmake --build --preset dev (or set $1)"
  echo "$root/build/dev/$2"
}
bastion=$(find_bin BASTION_BIN src/app/bastion)
demo=$(find_bin BASTION_DEMO_AGENT agents/demo/bastion-demo-agent)

it_modules="$root/tests/integration/node_modules"
if [ ! -x "$it_modules/.bin/node" ] || [ ! -d "$it_modules/@modelcontextprotocol/sdk" ]; then
  echo "installing the pinned MCP test peers (npm ci in tests/integration)"
  (cd "$root/tests/integration" && timeout 600 npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci in tests/integration failed"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/bastion-integration.XXXXXX")
chmod 755 "$work"  # started as root, Bastion drops to nobody and must reach its files here
bastion_pid=""
prom_pid=""
STOP_PID_LABEL=integration
# shellcheck source=/dev/null
. "$root/scripts/lib/stop_pid.sh"
cleanup() {
  local rc=$?
  trap - EXIT
  [ -z "$prom_pid" ] || stop_pid "$prom_pid" 10 || true
  [ -z "$bastion_pid" ] || stop_pid "$bastion_pid" 20 || true
  if [ "$rc" -ne 0 ]; then
    for f in bastion.log prometheus.log; do
      [ -f "$work/$f" ] || continue
      echo "---- $f (last 30 lines) ----" >&2
      tail -n 30 "$work/$f" >&2
    done
  fi
  rm -rf "$work"
  printf '\nintegration: %s after %ds\n' "$([ "$rc" -eq 0 ] && echo PASS || echo FAIL)" $(($(date +%s) - t0))
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true; }
# until SECONDS DESCRIPTION CMD...: polls CMD every 0.2 s until it succeeds, or fails the run.
until_ok() {
  local seconds=$1 what=$2 i; shift 2
  for ((i = 0; i < seconds * 5; i++)); do
    "$@" && return 0
    sleep 0.2
  done
  fail "$what: not within ${seconds}s"
}
metric_sum() {  # FILE METRIC [LABEL-FILTER...]: sum of the matching samples (exit 1 if none)
  local file=$1 name=$2; shift 2
  awk -v name="$name" -v filters="$*" '
    BEGIN { n = split(filters, f, " ") }
    $1 == name || index($1, name "{") == 1 {
      for (i = 1; i <= n; i++) if (index($1, f[i]) == 0) next
      found = 1; sum += $NF
    }
    END { if (!found) exit 1; printf "%d\n", sum }' "$file"
}

# --- secrets: copies Bastion can read after dropping to nobody (never on argv or in the config) --
mkdir -m 755 "$work/secrets"
for s in pg:"$BASTION_TEST_PG_PASSWORD_FILE" redis:"$BASTION_TEST_REDIS_PASSWORD_FILE"; do
  install -m 0400 "${s#*:}" "$work/secrets/${s%%:*}_password"
  [ "$(id -u)" -ne 0 ] || chown nobody "$work/secrets/${s%%:*}_password"
done

# --- Bastion ----------------------------------------------------------------------------------
step "bastion: PostgreSQL store, Redis-shared rate limit, demo agent"
cat >"$work/bastion.yaml" <<EOF
# Generated by scripts/integration.sh.
data_dir: $work/data
listen:
  public: {address: "127.0.0.1:0"}
  admin: {address: "127.0.0.1:0"}
# Every Artillery client shares 127.0.0.1: one zone, decided by Redis, far above the load.
rate_limits:
  - {name: mcp_api, match: /mcp, key: ip, rate: 100000r/s, burst: 100000, nodelay: true}
redis: {url: "$BASTION_TEST_REDIS_URL", password_file: "$work/secrets/redis_password", timeout: 500ms, fail_mode: closed}
limits: {max_in_flight_per_client: 100000}
store: {url: "$BASTION_TEST_PG_URL", password_file: "$work/secrets/pg_password", capture: hashed, flush_interval: 100ms}
log: {level: warn, format: text}
upstreams:
  demo: {command: "$demo"}
EOF
"$bastion" check-config -c "$work/bastion.yaml" >"$work/check-config.log" 2>&1 ||
  { cat "$work/check-config.log" >&2; fail "bastion check-config refused the generated config"; }
"$bastion" serve -c "$work/bastion.yaml" --ready-file "$work/ready.json" >"$work/bastion.log" 2>&1 &
bastion_pid=$!
ready_file_written() {
  kill -0 "$bastion_pid" 2>/dev/null || fail "bastion exited during start-up"
  grep -q '"admin"' "$work/ready.json" 2>/dev/null
}
until_ok 30 "bastion ready file" ready_file_written
public=$(jq -r .public "$work/ready.json")
admin=$(jq -r .admin "$work/ready.json")
bastion_ready() { [ "$(http_code "http://$admin/readyz")" = 200 ]; }
until_ok 30 "bastion /readyz 200" bastion_ready
echo "bastion pid $bastion_pid: MCP http://$public/mcp, admin http://$admin"

# --- Prometheus -------------------------------------------------------------------------------
step "prometheus scraping http://$admin/metrics every second"
prom_port=$(free_port)
mkdir -p "$work/prom/data"
cat >"$work/prom/prometheus.yml" <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: bastion
    metrics_path: /metrics
    static_configs: [{targets: ["$admin"]}]
EOF
prometheus --config.file="$work/prom/prometheus.yml" --storage.tsdb.path="$work/prom/data" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$work/prometheus.log" 2>&1 &
prom_pid=$!
prom=http://127.0.0.1:$prom_port
prom_ready() {
  kill -0 "$prom_pid" 2>/dev/null || fail "prometheus exited during start-up"
  [ "$(http_code "$prom/-/ready")" = 200 ]
}
until_ok 30 "prometheus /-/ready" prom_ready
# promql QUERY: the value of a one-sample instant vector ("" when empty).
promql() {
  curl -sf --max-time 5 "$prom/api/v1/query" --data-urlencode "query=$1" |
    jq -r 'if .status == "success" then (.data.result[0].value[1] // "") else error("query failed") end'
}
prom_scraped() { [ "$(promql 'up{job="bastion"}')" = 1 ]; }
until_ok 30 "prometheus scraped bastion (up == 1)" prom_scraped

# --- 1. a real MCP client --------------------------------------------------------------------
step "official MCP SDK client: initialize, tools/list, tools/call echo"
sdk_calls=3
timeout 60 "$root/tests/integration/node_modules/.bin/node" "$root/tests/integration/sdk_client_smoke.mjs" \
  "http://$public/mcp" "$sdk_calls" || fail "the MCP SDK client failed"

# --- 2. load ----------------------------------------------------------------------------------
step "Artillery, short run"
timeout 300 "$root/loadtest/run.sh" short --target "http://$public" --out "$work/load" || fail "the load test failed"
load_calls=$(cat "$work/load/calls")
calls=$((sdk_calls + load_calls))
echo "tools/call echo completed: $calls ($sdk_calls SDK + $load_calls Artillery)"

# --- 3. health ------------------------------------------------------------------------------
step "admin /healthz: database and redis pass"
health_pass() {
  curl -s --max-time 5 "http://$admin/healthz" >"$work/healthz.json" || return 1
  jq -e '.checks.database[0].status == "pass" and .checks.redis[0].status == "pass"' "$work/healthz.json" >/dev/null
}
# Right after the load the recorder may still be writing its last batches: poll, bounded.
if ! (for ((i = 0; i < 75; i++)); do health_pass && exit 0; sleep 0.2; done; exit 1); then
  jq -c . "$work/healthz.json" >&2 || cat "$work/healthz.json" >&2
  fail "admin /healthz does not report database and redis pass"
fi
jq -c '{status, database: .checks.database[0].status, redis: .checks.redis[0].status}' "$work/healthz.json"

# --- 4. Prometheus has Bastion's series, scraped after the load -------------------------------
step "PromQL through Prometheus: bastion_tool_calls_total"
[ -n "$(promql 'count(bastion_tool_calls_total)')" ] || fail "no bastion_tool_calls_total series in Prometheus"
# A scrape after the load: the echo calls Prometheus sees reach the calls made.
prom_has_calls() { [ "$(promql 'sum(bastion_tool_calls_total{tool="echo",status="ok"})')" = "$calls" ]; }
until_ok 30 "Prometheus: sum(bastion_tool_calls_total{tool=\"echo\",status=\"ok\"}) == $calls" prom_has_calls
echo "Prometheus: $(promql 'count(bastion_tool_calls_total)') series, echo ok = $calls"

# --- 5. nothing lost --------------------------------------------------------------------------
step "recorder: nothing dropped; PostgreSQL rows == calls"
curl -sf --max-time 5 "http://$admin/metrics" >"$work/metrics.txt" || fail "admin /metrics did not answer"
timeout 10 promtool check metrics <"$work/metrics.txt" || fail "promtool check metrics refused the live scrape"
# The bottleneck report from the running gateway (live windows). (`bastion analyze` asks the same
# endpoint when the admin port is fixed; here it is chosen at start.)
curl -sf --max-time 10 "http://$admin/api/v1/analysis?window=5m" >"$work/analysis-live.json" ||
  fail "GET /api/v1/analysis failed"
jq -e --argjson n "$calls" '.source == "live" and ([.tools[] | select(.tool == "echo") | .count] | add) == $n' \
  "$work/analysis-live.json" >/dev/null || { jq -c . "$work/analysis-live.json" >&2; fail "live analysis does not count the echo calls"; }
dropped=$(metric_sum "$work/metrics.txt" bastion_recorder_dropped_total) || fail "bastion_recorder_dropped_total missing"
limited=$(metric_sum "$work/metrics.txt" bastion_rate_limited_total || echo 0)
echo "bastion_recorder_dropped_total $dropped, bastion_rate_limited_total $limited"
[ "$dropped" -eq 0 ] || fail "the recorder dropped $dropped interactions"
[ "$limited" -eq 0 ] || fail "the rate limit rejected $limited requests"
# The zone was decided in Redis (its GCRA script), not by a local fallback. The password goes
# through the environment (REDISCLI_AUTH), not argv.
evalsha=$(REDISCLI_AUTH=$(cat "$BASTION_TEST_REDIS_PASSWORD_FILE") timeout 10 redis-cli --no-auth-warning \
  -h 127.0.0.1 -p "$BASTION_TEST_REDIS_PORT" INFO commandstats |
  sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p')
echo "Redis: EVALSHA calls ${evalsha:-0}"
[ "${evalsha:-0}" -ge "$calls" ] || fail "Redis ran the rate-limit script ${evalsha:-0} times for $calls calls"

rc=0
stop_pid "$bastion_pid" 30 || rc=$?
bastion_pid=""
[ "$rc" -eq 0 ] || fail "bastion exited with status $rc on SIGTERM"
db_url=${BASTION_TEST_PG_ADMIN_URL/@\/postgres\?/@\/bastion\?}
[ "$db_url" != "$BASTION_TEST_PG_ADMIN_URL" ] || fail "unexpected BASTION_TEST_PG_ADMIN_URL form"
psql_q() { timeout 20 psql -X -A -t -v ON_ERROR_STOP=1 -d "$db_url" -c "$1"; }
rows=$(psql_q "SELECT count(*) FROM mcp_interactions WHERE method = 'tools/call'")
ok_rows=$(psql_q "SELECT count(*) FROM mcp_interactions WHERE method = 'tools/call' AND tool = 'echo' AND status = 'ok'")
echo "PostgreSQL mcp_interactions: $(psql_q "SELECT string_agg(method || '=' || n, ', ' ORDER BY method) FROM (SELECT method, count(*) AS n FROM mcp_interactions GROUP BY method) m")"
[ "$rows" -eq "$calls" ] || fail "mcp_interactions holds $rows tools/call rows, $calls calls were made"
[ "$ok_rows" -eq "$calls" ] || fail "only $ok_rows of $rows tools/call rows are echo with status ok"
# Besides the calls, only the SDK client's one tools/list is an interaction (handshakes,
# notifications and DELETE are not recorded).
others=$(psql_q "SELECT count(*) FROM mcp_interactions WHERE method <> 'tools/call'")
lists=$(psql_q "SELECT count(*) FROM mcp_interactions WHERE method = 'tools/list'")
[ "$lists" -eq 1 ] && [ "$others" -eq 1 ] || fail "expected one tools/list row and no other non-call rows, found $others"

# With the gateway gone, `bastion analyze` reads PostgreSQL itself.
step "bastion analyze from PostgreSQL (gateway stopped)"
timeout 60 "$bastion" analyze -c "$work/bastion.yaml" --window 1h --json >"$work/analysis-store.json" ||
  fail "bastion analyze (store) failed"
jq -e --argjson n "$calls" '.source == "store" and ([.tools[] | select(.tool == "echo") | .count] | add) == $n' \
  "$work/analysis-store.json" >/dev/null || { jq -c . "$work/analysis-store.json" >&2; fail "store analysis does not count the echo calls"; }
echo "analysis: live and PostgreSQL both count $calls echo calls"
