#!/usr/bin/env bash
# loadtest/run.sh — the seed's Artillery load test against a real Bastion, with every figure checked.
#
#   loadtest/run.sh [short|seed|x10|soak]      start Bastion here and test it (default: short)
#   loadtest/run.sh MODE --target URL --out DIR
#                                              only run Artillery against a Bastion someone else
#                                              started (scripts/integration.sh) and check the report;
#                                              DIR receives report.json and `calls` (tools/call
#                                              completed), for the caller's own store checks
# Modes:
#   short  the seed's three phases cut to 4 + 6 + 4 s at 5, 15, 30 new clients/s (~20 s; the test suite)
#   seed   mcp.yml as the seed wrote it: 60 s x 10/s, 120 s x 50/s, 60 s x 100/s (12,600 clients, ~4 min)
#   x10    mcp-x10.yml: ten times those rates (126,000 clients; Artillery needs more cores than 2 for it)
#   soak   SOAK_MINUTES (default 30) at SOAK_RATE new clients/s (default 20), sampling Bastion's RSS
#          every SOAK_SAMPLE_SECONDS (5) from /proc; fails when the RSS at the end exceeds the RSS
#          after SOAK_WARMUP_SECONDS (default 120) by more than SOAK_MAX_GROWTH_MB (default 32)
# Only `short` runs in the test suite (ctest loadtest_short); the others are for a person to start.
#
# Every virtual user is one MCP client: initialize, notifications/initialized, tools/call echo,
# DELETE (see mcp.yml). Bastion runs with the demo agent, rate limits off (`rate_limits: []`:
# Artillery is one client address) and records to SQLite in a temporary directory. The run fails
# unless: Artillery started every planned client and each one completed, with 0 errors and only
# 2xx replies; every JSON-RPC reply is a result (processor.cjs); every tools/call is counted by
# Bastion's bastion_tool_calls_total and by exactly one row in mcp_interactions (read with sqlite3
# after SIGTERM, which flushes the recorder); bastion_recorder_dropped_total is 0 on the last
# /metrics scrape of the admin listener.
#
# Binaries: BASTION_BIN and BASTION_DEMO_AGENT, else build/dev (then build/release). Artillery is
# installed here by `npm ci` when missing (pinned in package-lock.json; scripts/test.sh does it too).
# Needs: node/npm, curl, jq, sqlite3, python3.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }
fail() { echo "loadtest: FAIL: $*" >&2; exit 1; }
log() { printf 'loadtest: %s\n' "$*"; }

mode=short
target=""
out=""
if [ "$#" -gt 0 ] && [[ $1 != --* ]]; then mode=$1; shift; fi
while [ "$#" -gt 0 ]; do
  case "$1" in
    --target) target=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "loadtest: unknown argument $1" >&2; usage ;;
  esac
done
overlay=()
overrides=""
case "$mode" in
  short) overlay=("$here/mcp-short.yml") ;;
  seed) ;;
  x10) overlay=("$here/mcp-x10.yml") ;;
  soak)
    SOAK_MINUTES=${SOAK_MINUTES:-30}
    SOAK_RATE=${SOAK_RATE:-20}
    SOAK_SAMPLE_SECONDS=${SOAK_SAMPLE_SECONDS:-5}
    SOAK_WARMUP_SECONDS=${SOAK_WARMUP_SECONDS:-120}
    SOAK_MAX_GROWTH_MB=${SOAK_MAX_GROWTH_MB:-32}
    for v in SOAK_MINUTES SOAK_RATE SOAK_SAMPLE_SECONDS SOAK_WARMUP_SECONDS SOAK_MAX_GROWTH_MB; do
      [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || fail "$v must be a positive integer (got '${!v}')"
    done
    [ $((SOAK_MINUTES * 60)) -gt $((SOAK_WARMUP_SECONDS + 60)) ] ||
      fail "SOAK_MINUTES must leave at least a minute after SOAK_WARMUP_SECONDS"
    overrides=$(printf '{"config":{"phases":[{"name":"soak","duration":%d,"arrivalRate":%d}]}}' \
      $((SOAK_MINUTES * 60)) "$SOAK_RATE")
    ;;
  *) echo "loadtest: unknown mode '$mode'" >&2; usage ;;
esac
if [ -n "$target" ] && [ "$mode" = soak ]; then fail "soak samples the RSS of a Bastion it starts itself: no --target"; fi
if [ -n "$target" ] && [ -z "$out" ]; then fail "--target needs --out DIR"; fi

for tool in node npm curl jq python3; do
  command -v "$tool" >/dev/null || fail "$tool not found (scripts/install-deps.sh --test)"
done
[ -n "$target" ] || command -v sqlite3 >/dev/null || fail "sqlite3 not found (scripts/install-deps.sh --test)"

# --- Artillery (pinned; needs Node >= 22.18, which the pinned `node` package brings) ----------
artillery=$here/node_modules/.bin/artillery
if [ ! -x "$artillery" ] || [ ! -x "$here/node_modules/.bin/node" ]; then
  log "installing Artillery (npm ci in loadtest/)"
  (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 600 npm ci --no-audit --no-fund --loglevel=error) ||
    fail "npm ci in $here failed"
fi

# --- work directory, processes, cleanup ------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/bastion-loadtest.XXXXXX")
chmod 755 "$work"  # started as root, Bastion drops to nobody and must reach its data dir here
bastion_pid=""
artillery_pid=""
STOP_PID_LABEL=loadtest
# shellcheck source=/dev/null
. "$root/scripts/lib/stop_pid.sh"
cleanup() {
  local rc=$?
  trap - EXIT
  [ -z "$artillery_pid" ] || stop_pid "$artillery_pid" 10 || true
  [ -z "$bastion_pid" ] || stop_pid "$bastion_pid" 20 || true
  if [ "$rc" -ne 0 ]; then
    if [ -f "$work/artillery.log" ]; then
      echo "---- artillery output (last 40 lines) ----" >&2
      tail -n 40 "$work/artillery.log" >&2
    fi
    if [ -f "$work/bastion.log" ]; then
      echo "---- bastion log (last 30 lines) ----" >&2
      tail -n 30 "$work/bastion.log" >&2
    fi
  fi
  if [ -n "${LOADTEST_KEEP:-}" ]; then echo "loadtest: kept $work" >&2; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Bastion ---------------------------------------------------------------------------------
find_bin() {  # NAME-IN-ENV RELATIVE-PATH
  local from_env=${!1:-} dir
  if [ -n "$from_env" ]; then
    [ -x "$from_env" ] || fail "$1=$from_env is not executable"
    echo "$from_env"; return
  fi
  for dir in "$root/build/dev" "$root/build/release"; do
    [ -x "$dir/$2" ] && { echo "$dir/$2"; return; }
  done
  fail "$(basename "$2") not found: build it (cmake --preset dev && cmake --build --preset dev) or set $1"
}

# Prometheus text: the sum of every sample of METRIC whose labels contain all of FILTERS.
metric_sum() {  # FILE METRIC [LABEL-FILTER...]
  local file=$1 name=$2; shift 2
  awk -v name="$name" -v filters="$*" '
    BEGIN { n = split(filters, f, " ") }
    $1 == name || index($1, name "{") == 1 {
      for (i = 1; i <= n; i++) if (index($1, f[i]) == 0) next
      found = 1; sum += $NF
    }
    END { if (!found) exit 1; printf "%d\n", sum }' "$file"
}

if [ -z "$target" ]; then
  bastion=$(find_bin BASTION_BIN src/app/bastion)
  demo=$(find_bin BASTION_DEMO_AGENT agents/demo/bastion-demo-agent)
  cat >"$work/bastion.yaml" <<EOF
# Generated by loadtest/run.sh.
data_dir: $work/data
listen:
  public: {address: "127.0.0.1:0"}
  admin: {address: "127.0.0.1:0"}
# Off: every virtual user comes from 127.0.0.1, and the default zone allows 10 requests/minute.
rate_limits: []
# One address stands for thousands of clients here: lift the per-client in-flight cap (64).
limits: {max_in_flight_per_client: 100000}
store: {url: "sqlite://$work/data/interactions.db", capture: hashed}
log: {level: warn, format: text}
upstreams:
  demo: {command: "$demo"}
EOF
  "$bastion" serve -c "$work/bastion.yaml" --ready-file "$work/ready.json" >"$work/bastion.log" 2>&1 &
  bastion_pid=$!
  for ((i = 0; i < 300; i++)); do  # <= 30 s
    kill -0 "$bastion_pid" 2>/dev/null || fail "bastion exited during start-up"
    grep -q '"admin"' "$work/ready.json" 2>/dev/null && break
    sleep 0.1
  done
  grep -q '"admin"' "$work/ready.json" 2>/dev/null || fail "bastion wrote no ready file within 30 s"
  public=$(jq -r .public "$work/ready.json")
  admin=$(jq -r .admin "$work/ready.json")
  for ((i = 0; i < 300; i++)); do  # /readyz: the recorder and the demo agent are up
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$admin/readyz" || true)" = 200 ] && break
    kill -0 "$bastion_pid" 2>/dev/null || fail "bastion exited during start-up"
    sleep 0.1
  done
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$admin/readyz" || true)" = 200 ] ||
    fail "bastion not ready within 30 s (admin /readyz)"
  target=http://$public
  log "bastion pid $bastion_pid on $target (admin $admin), store SQLite in $work/data"
  external=0
else
  external=1
  mkdir -p "$out"
fi

# --- Artillery ------------------------------------------------------------------------------
# The clients Artillery must start: the phases of mcp.yml with the overlay merged over them
# index by index (as Artillery merges scripts), or the soak override.
expected=$(python3 - "$overrides" "$here/mcp.yml" "${overlay[@]}" <<'PY'
import json, sys, yaml
overrides, files = sys.argv[1], sys.argv[2:]
phases = []
for f in files:
    for i, p in enumerate(yaml.safe_load(open(f))["config"]["phases"]):
        if i < len(phases): phases[i].update(p)
        else: phases.append(dict(p))
if overrides:
    phases = json.loads(overrides)["config"]["phases"]
print(sum(int(p["duration"]) * int(p["arrivalRate"]) for p in phases))
PY
)
report=$work/report.json
args=(run --target "$target" --output "$report" "$here/mcp.yml" "${overlay[@]}")
[ -z "$overrides" ] || args+=(--overrides "$overrides")
log "mode $mode: $expected clients against $target/mcp"
started=$(date +%s)
# Artillery's own telemetry off; its Node first in PATH (the scripts' shebang is `env node`).
export ARTILLERY_DISABLE_TELEMETRY=true
if [ "$mode" = short ]; then
  # Quiet in the test suite: its console report is shown only on failure.
  PATH="$here/node_modules/.bin:$PATH" "$artillery" "${args[@]}" >"$work/artillery.log" 2>&1 &
else
  PATH="$here/node_modules/.bin:$PATH" "$artillery" "${args[@]}" > >(tee "$work/artillery.log") 2>&1 &
fi
artillery_pid=$!

if [ "$mode" = soak ]; then
  # RSS of Bastion (kB) every SOAK_SAMPLE_SECONDS while Artillery runs; bounded by the planned
  # duration plus 10 minutes.
  : >"$work/rss.tsv"
  max_samples=$(((SOAK_MINUTES * 60 + 600) / SOAK_SAMPLE_SECONDS))
  for ((n = 0; n < max_samples; n++)); do
    kill -0 "$artillery_pid" 2>/dev/null || break
    kill -0 "$bastion_pid" 2>/dev/null || fail "bastion died during the soak"
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$bastion_pid/status")
    printf '%d\t%d\n' $(($(date +%s) - started)) "$rss" >>"$work/rss.tsv"
    sleep "$SOAK_SAMPLE_SECONDS"
  done
  kill -0 "$artillery_pid" 2>/dev/null && fail "artillery still running after the planned soak + 10 min"
fi

rc=0
wait "$artillery_pid" || rc=$?
artillery_pid=""
elapsed=$(($(date +%s) - started))
[ "$rc" -eq 0 ] || fail "artillery exited with status $rc"
[ -s "$report" ] || fail "artillery wrote no report"

# --- the report ------------------------------------------------------------------------------
c() {  # a counter of the aggregate report (0 when absent)
  jq -r --arg k "$1" '.aggregate.counters[$k] // 0' "$report"
}
created=$(c vusers.created)
completed=$(c vusers.completed)
failed=$(c vusers.failed)
requests=$(c http.requests)
responses=$(c http.responses)
calls=$(c mcp.tools_call.ok)
inits=$(c mcp.initialize.ok)
deleted=$(c mcp.session_deleted.ok)
errors=$(jq -r '[.aggregate.counters | to_entries[] | select(.key | startswith("errors.")) | "\(.key)=\(.value)"] | join(", ")' "$report")
non2xx=$(jq -r '[.aggregate.counters | to_entries[] | select(.key | test("^http\\.codes\\.")) | select(.key | test("^http\\.codes\\.2[0-9][0-9]$") | not) | "\(.key)=\(.value)"] | join(", ")' "$report")
codes=$(jq -r '[.aggregate.counters | to_entries[] | select(.key | test("^http\\.codes\\.2[0-9][0-9]$")) | .value] | add // 0' "$report")
per_step() {  # STEP: requests with a 2xx code for this named step
  jq -r --arg s "$1" '[.aggregate.counters | to_entries[]
    | select(.key | startswith("plugins.metrics-by-endpoint." + $s + ".codes.2")) | .value] | add // 0' "$report"
}
q() {  # SUMMARY PERCENTILE
  jq -r --arg s "$1" --arg p "$2" '.aggregate.summaries[$s][$p] // "n/a"' "$report"
}

log "artillery took ${elapsed}s; clients created $created, completed $completed, failed $failed"
log "HTTP requests $requests, responses $responses (2xx $codes${non2xx:+, others: $non2xx}); tools/call completed $calls"
printf 'loadtest: %-26s %8s %8s %8s %8s  (ms)\n' "latency" p50 p95 p99 max
for s in http.response_time plugins.metrics-by-endpoint.response_time.initialize \
         plugins.metrics-by-endpoint.response_time.tools/call; do
  printf 'loadtest: %-26s %8s %8s %8s %8s\n' "${s##*.}" "$(q "$s" median)" "$(q "$s" p95)" "$(q "$s" p99)" "$(q "$s" max)"
done
log "mean request rate over the run: $((requests / (elapsed > 0 ? elapsed : 1)))/s"

[ -z "$errors" ] || fail "Artillery counted errors: $errors"
[ -z "$non2xx" ] || fail "non-2xx responses: $non2xx"
[ "$failed" -eq 0 ] || fail "$failed virtual users failed"
[ "$created" -eq "$expected" ] || fail "Artillery started $created clients, the phases plan $expected"
[ "$completed" -eq "$created" ] || fail "$created clients started but $completed completed"
[ "$requests" -eq $((4 * completed)) ] || fail "$requests requests sent for $completed clients (4 each expected)"
[ "$responses" -eq "$requests" ] || fail "$requests requests but $responses responses"
[ "$codes" -eq "$responses" ] || fail "$responses responses but $codes with a 2xx code"
[ "$inits" -eq "$completed" ] && [ "$calls" -eq "$completed" ] && [ "$deleted" -eq "$completed" ] ||
  fail "checked replies: initialize $inits, tools/call $calls, DELETE $deleted for $completed clients"
for step in initialize notifications/initialized tools/call "DELETE session"; do
  n=$(per_step "$step")
  [ "$n" -eq "$completed" ] || fail "step '$step': $n 2xx replies for $completed clients"
done
[ "$calls" -gt 0 ] || fail "no tools/call completed"
log "report: OK ($calls tools/call, every reply a JSON-RPC result with the echoed text)"

if [ "$external" = 1 ]; then
  cp "$report" "$out/report.json"
  echo "$calls" >"$out/calls"
  exit 0
fi

# --- Bastion's own accounting ----------------------------------------------------------------
curl -sf --max-time 5 "http://$admin/metrics" >"$work/metrics.txt" || fail "admin /metrics did not answer"
dropped=$(metric_sum "$work/metrics.txt" bastion_recorder_dropped_total) ||
  fail "bastion_recorder_dropped_total missing from /metrics"
counted=$(metric_sum "$work/metrics.txt" bastion_tool_calls_total 'tool="echo"' 'status="ok"') ||
  fail "bastion_tool_calls_total{tool=\"echo\",status=\"ok\"} missing from /metrics"
log "metrics: bastion_tool_calls_total{tool=echo,status=ok} $counted, bastion_recorder_dropped_total $dropped"
[ "$dropped" -eq 0 ] || fail "the recorder dropped $dropped interactions"
[ "$counted" -eq "$calls" ] || fail "bastion counted $counted echo calls, Artillery completed $calls"

if [ "$mode" = soak ]; then
  # Baseline: the mean of the minute after warm-up; end: the mean of the last minute.
  read -r base_kb end_kb peak_kb <<<"$(awk -v w="$SOAK_WARMUP_SECONDS" -v last="$elapsed" '
    $1 >= w && $1 < w + 60 { b += $2; nb++ }
    $1 >= last - 60 { e += $2; ne++ }
    $2 > peak { peak = $2 }
    END { printf "%d %d %d\n", nb ? b / nb : 0, ne ? e / ne : 0, peak }' "$work/rss.tsv")"
  [ "$base_kb" -gt 0 ] && [ "$end_kb" -gt 0 ] || fail "not enough RSS samples ($(wc -l <"$work/rss.tsv"))"
  growth_kb=$((end_kb - base_kb))
  log "RSS: after warm-up $((base_kb / 1024)) MiB, at the end $((end_kb / 1024)) MiB, peak $((peak_kb / 1024)) MiB, growth $((growth_kb / 1024)) MiB (bound ${SOAK_MAX_GROWTH_MB} MiB)"
  [ "$growth_kb" -le $((SOAK_MAX_GROWTH_MB * 1024)) ] ||
    fail "Bastion's RSS grew by $((growth_kb / 1024)) MiB after warm-up (bound ${SOAK_MAX_GROWTH_MB} MiB)"
fi

# SIGTERM: Bastion stops accepting, finishes, and flushes the recorder before it exits.
rc=0
stop_pid "$bastion_pid" 30 || rc=$?
bastion_pid=""
[ "$rc" -eq 0 ] || fail "bastion exited with status $rc on SIGTERM"
db=$work/data/interactions.db
[ -f "$db" ] || fail "no interaction store at $db"
all_rows=$(sqlite3 -readonly "$db" "SELECT count(*) FROM mcp_interactions")
rows=$(sqlite3 -readonly "$db" "SELECT count(*) FROM mcp_interactions WHERE method = 'tools/call'")
ok_rows=$(sqlite3 -readonly "$db" "SELECT count(*) FROM mcp_interactions WHERE method = 'tools/call' AND tool = 'echo' AND status = 'ok'")
log "store: $(sqlite3 -readonly "$db" "SELECT group_concat(method || '=' || n, ', ') FROM (SELECT method, count(*) AS n FROM mcp_interactions GROUP BY method ORDER BY method)")"
[ "$rows" -eq "$calls" ] || fail "mcp_interactions holds $rows tools/call rows, Artillery completed $calls"
# The handshake, the notification and DELETE are not interactions: one row per tools/call.
[ "$all_rows" -eq "$calls" ] || fail "mcp_interactions holds $all_rows rows for $calls tools/call"
[ "$ok_rows" -eq "$calls" ] || fail "only $ok_rows of $rows tools/call rows are echo with status ok"
log "PASS: mode $mode, $calls tools/call, $all_rows rows in mcp_interactions, 0 dropped"
