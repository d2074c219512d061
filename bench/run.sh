#!/usr/bin/env bash
# bench/run.sh — tools/call through Bastion vs the same upstream directly, and vs other front
# doors (nginx with the seed's config, supergateway, mcp-proxy), measured with wrk.
#
# Loopback only; installs nothing. Starts bastion-bench-echo (the upstream), one Bastion per
# upstream kind (Streamable HTTP → the echo server; stdio → bastion-demo-agent when present), and
# the peers a selected scenario needs (nginx from the system, the npm ones from
# bench/peers/node_modules), runs wrk at several concurrencies, interleaving the scenarios round
# after round, and reports medians: a Markdown table on stdout and a JSON file. Every process it
# starts is stopped by PID on exit. See docs/benchmarks.md for how to read the numbers.
#
# Exit status: 0 all selected scenarios ran without a single error; 1 a scenario failed or
# counted errors (unless listed in --allow-fail); 2 usage; 77 a required tool (wrk, curl,
# python3) is missing, or a selected scenario was skipped because its peer is not installed and
# none failed (ctest treats 77 as "skipped"; the other scenarios still ran and are reported).
set -euo pipefail

ORIG_ARGS=("$@")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench

# Every scenario: name | server | path | era | tool | baseline (the direct run it is compared with)
# [| versus: for another front door, the Bastion scenario compared with it as Bastion ÷ peer].
# The tool column names the tool of a tools/call, or is "tools/list" for a list scenario.
# To compare another front door, add a start_<server> function below and rows here.
SCENARIO_TABLE=(
  "direct-2026|echo|/mcp|2026|echo|"
  "bastion-http-2026|bastion-http|/mcp/echo|2026|echo|direct-2026"
  "direct-2025|echo|/mcp|2025|echo|"
  "bastion-http-2025|bastion-http|/mcp/echo|2025|echo|direct-2025"
  "bastion-stdio-2026|bastion-stdio|/mcp/demo|2026|echo|direct-2026"
  "bastion-stdio-2025|bastion-stdio|/mcp/demo|2025|echo|direct-2025"
  "bastion-fed-2026|bastion-http|/mcp|2026|echo|direct-2026"
  # tools/list on the federated endpoint of a Bastion with --fed-upstreams (10) Streamable-HTTP
  # upstreams, each its own echo server: the cached list (wrk) and, before the rounds, the cold
  # first list after fresh starts (curl). No baseline: nothing else federates.
  "bastion-fed10-list-2026|bastion-fed10|/mcp|2026|tools/list|"
  # The security front door (TLS, bearer token, a rate-limit zone that never triggers) against the
  # same pass-through path with all three off: the baseline is bastion-http, not direct.
  "bastion-secure-2026|bastion-secure|/mcp/echo|2026|echo|bastion-http-2026"
  "bastion-secure-2025|bastion-secure|/mcp/echo|2025|echo|bastion-http-2025"
  # The knowledge base: the same pass-through with recording off, to SQLite (the default;
  # async, and durability sync) and to PostgreSQL (needs BASTION_TEST_PG_URL, e.g. run under
  # tests/services/postgres.sh), each compared with recording off.
  "record-off-2026|bastion-nostore|/mcp/echo|2026|echo|"
  "record-sqlite-2026|bastion-http|/mcp/echo|2026|echo|record-off-2026"
  "record-sqlite-sync-2026|bastion-sqlite-sync|/mcp/echo|2026|echo|record-off-2026"
  "record-pg-2026|bastion-pg|/mcp/echo|2026|echo|record-off-2026"
  # Other front doors (bench/peers/). nginx with the seed's front door (bench/peers/nginx.conf.in:
  # TLS, headers, limit_req, auth_request, upstream keep-alive) in front of the same echo server;
  # supergateway and mcp-proxy (npm) in front of the same stdio agent as bastion-stdio. Those two
  # are session-based, so they are measured in a 2025 session.
  "nginx-secure-2026|nginx|/mcp|2026|echo|direct-2026|bastion-secure-2026"
  "nginx-secure-2025|nginx|/mcp|2025|echo|direct-2025|bastion-secure-2025"
  "supergateway-stdio-2025|supergateway|/mcp|2025|echo|direct-2025|bastion-stdio-2025"
  "mcp-proxy-stdio-2025|mcp-proxy|/mcp|2025|echo|direct-2025|bastion-stdio-2025"
)
DEFAULT_SCENARIOS="direct-2026,bastion-http-2026,direct-2025,bastion-http-2025,bastion-stdio-2026"

usage() {
  cat <<EOF
usage: bench/run.sh [options]
  --smoke               1 s runs, connections 1 and 8, one round, no warm-up; fails on any error
  --full                every comparison in one run (about 10 minutes): direct, Bastion pass-through
                        and federated, secure vs nginx, stdio vs supergateway and mcp-proxy,
                        recording off / SQLite (/ PostgreSQL under tests/services/postgres.sh),
                        federated tools/list across 10 upstreams, and the memory phase; 3 s runs,
                        3 rounds, c = 1, 32, 256. Options after it override its values
  --duration SEC        seconds per wrk run (default 10)
  --rounds N            interleaved rounds; medians are taken over them (default 3)
  --connections "LIST"  wrk concurrencies (default "1 32 256")
  --wrk-threads N       wrk threads, capped at the connection count (default 1)
  --warmup SEC          discarded warm-up run per scenario before round 1 (default 2; 0 = none)
  --scenarios LIST      comma-separated, or "all" (default $DEFAULT_SCENARIOS)
                        ("none": only the memory phase)
                        known: $(for s in "${SCENARIO_TABLE[@]}"; do printf '%s ' "${s%%|*}"; done)
                        bastion-secure-*: TLS + bearer token + rate-limit zone, compared with
                        bastion-http-* (select both; needs openssl)
                        nginx-secure-*: nginx (Debian package) with the seed's front door,
                        compared with bastion-secure-*; supergateway-*, mcp-proxy-*: npm stdio
                        bridges, compared with bastion-stdio-2025 (install: cd bench/peers &&
                        npm ci). A peer that is not installed skips its scenarios.
  --allow-fail LIST     scenarios whose failure does not fail the run (reported all the same)
  --wrk-cpu N           CPU for wrk (default 1)
  --server-cpu N        CPU for the echo server, Bastion and its agents (default 0)
  --no-pin              do not pin with taskset
  --nice N              run wrk and the servers at this niceness (e.g. -5 on a machine busy with
                        other work; negative values need root). Default: unchanged
  --echo-threads N      bastion-bench-echo threads (default 1: it has one CPU)
  --message TEXT        the echo message (default hello)
  --fed-upstreams N     upstreams (echo servers) of bastion-fed10-list-2026 (default 10)
  --cold-starts N       fresh Bastion starts timing the first (cold) federated list (default 5)
  --build-dir DIR       where to find the binaries (default: build/bench, build/release, build/dev)
  --bastion PATH, --echo PATH, --demo-agent PATH   explicit binaries
  --results FILE        JSON output (default bench/results/latest.json; smoke: in the temp dir)
  --idle-conns N        memory phase: RSS of a fresh Bastion idle and with N idle keep-alive
                        connections (default 10000; smoke: 200; 0 = skip the phase)
  --idle-servers LIST   which Bastion configs the memory phase measures: bastion-http (plain),
                        bastion-secure (TLS + token + zone) (default both; smoke: bastion-http)
  --keep-temp           keep the temp dir (configs, logs, raw wrk output)
EOF
}

smoke=0 duration=10 rounds=3 conns="1 32 256" wrk_threads=1 warmup=2
scenarios=$DEFAULT_SCENARIOS allow_fail="" wrk_cpu=1 server_cpu=0 pin=1 echo_threads=1
nice_level="" message=hello build_dir="" bastion_bin="" echo_bin="" demo_bin="" results="" keep_temp=0
idle_conns="" idle_servers=""
fed_upstreams=10 cold_starts=5
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 duration=1 rounds=1 conns="1 8" warmup=0 cold_starts=1 ;;
    --full)
      duration=3 rounds=3 conns="1 32 256" warmup=2
      scenarios=direct-2026,bastion-http-2026,bastion-fed-2026,bastion-secure-2026,nginx-secure-2026
      scenarios+=,bastion-stdio-2025,supergateway-stdio-2025,mcp-proxy-stdio-2025
      scenarios+=,record-off-2026,record-sqlite-2026,bastion-fed10-list-2026
      if [ -n "${BASTION_TEST_PG_URL:-}" ]; then scenarios+=,record-pg-2026; fi
      # The Node bridges now and then leave a call past wrk's timeout at c = 256: reported, not fatal.
      allow_fail=supergateway-stdio-2025,mcp-proxy-stdio-2025 ;;
    --duration) duration=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --connections) conns=$2; shift ;;
    --wrk-threads) wrk_threads=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --scenarios) scenarios=$2; shift ;;
    --allow-fail) allow_fail=$2; shift ;;
    --wrk-cpu) wrk_cpu=$2; shift ;;
    --server-cpu) server_cpu=$2; shift ;;
    --no-pin) pin=0 ;;
    --nice) nice_level=$2; shift ;;
    --echo-threads) echo_threads=$2; shift ;;
    --message) message=$2; shift ;;
    --fed-upstreams) fed_upstreams=$2; shift ;;
    --cold-starts) cold_starts=$2; shift ;;
    --build-dir) build_dir=$2; shift ;;
    --bastion) bastion_bin=$2; shift ;;
    --echo) echo_bin=$2; shift ;;
    --demo-agent) demo_bin=$2; shift ;;
    --results) results=$2; shift ;;
    --keep-temp) keep_temp=1 ;;
    --idle-conns) idle_conns=$2; shift ;;
    --idle-servers) idle_servers=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
if [ $smoke = 1 ]; then : "${idle_conns:=200}" "${idle_servers:=bastion-http}"; fi
: "${idle_conns:=10000}" "${idle_servers:=bastion-http,bastion-secure}"
for n in "$duration" "$rounds" "$wrk_threads" "$warmup" "$echo_threads" "$idle_conns" "$fed_upstreams" "$cold_starts" $conns; do
  [[ "$n" =~ ^[0-9]+$ ]] || { echo "run.sh: expected a number, got '$n'" >&2; exit 2; }
done
IFS=',' read -r -a IDLE_SERVERS <<<"$idle_servers"
for s in "${IDLE_SERVERS[@]}"; do
  case $s in bastion-http|bastion-secure) ;; *) echo "run.sh: --idle-servers knows bastion-http and bastion-secure, not '$s'" >&2; exit 2 ;; esac
done
if [ "$duration" -lt 1 ] || [ "$rounds" -lt 1 ]; then echo "run.sh: duration and rounds must be >= 1" >&2; exit 2; fi
if [ "$fed_upstreams" -lt 2 ]; then echo "run.sh: --fed-upstreams must be >= 2 (one upstream is not federation)" >&2; exit 2; fi
[ -z "$nice_level" ] || [[ "$nice_level" =~ ^-?[0-9]+$ ]] || { echo "run.sh: --nice expects an integer" >&2; exit 2; }
case "$message" in *[\"\\]*) echo "run.sh: --message must not contain quotes or backslashes" >&2; exit 2 ;; esac

log() { printf '[bench] %s\n' "$*" >&2; }

# ---- tools -------------------------------------------------------------------------------------
missing=()
for tool in wrk curl python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ $pin = 1 ]; then command -v taskset >/dev/null || missing+=("taskset (util-linux)"); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "run.sh: missing required tools: ${missing[*]}" >&2
  echo "run.sh: on Debian: apt-get install -y wrk curl python3 util-linux" >&2
  exit 77
fi
if [ $pin = 1 ] && [ "$(nproc)" -lt 2 ]; then
  log "only $(nproc) CPU: not pinning (wrk and the servers share it)"
  pin=0
fi
# Prefixes for wrk and for the servers; each execs the next, so $! is the real process.
PIN_WRK=() PIN_SERVER=()
if [ -n "$nice_level" ]; then PIN_WRK=(nice -n "$nice_level") PIN_SERVER=(nice -n "$nice_level"); fi
if [ $pin = 1 ]; then
  PIN_WRK+=(taskset -c "$wrk_cpu")
  PIN_SERVER+=(taskset -c "$server_cpu")
fi
loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- binaries ----------------------------------------------------------------------------------
find_bin() {  # relative path inside a build dir
  local d
  for d in ${build_dir:+"$build_dir"} "$ROOT/build/bench" "$ROOT/build/release" "$ROOT/build/dev"; do
    if [ -x "$d/$1" ]; then echo "$d/$1"; return 0; fi
  done
  return 1
}
[ -n "$bastion_bin" ] || bastion_bin=$(find_bin src/app/bastion) || true
[ -n "$echo_bin" ] || echo_bin=$(find_bin bench/echo_server/bastion-bench-echo) || true
[ -n "$demo_bin" ] || demo_bin=$(find_bin agents/demo/bastion-demo-agent) || true
if [ -z "$echo_bin" ] || [ ! -x "$echo_bin" ]; then
  echo "run.sh: bastion-bench-echo not found; build it (cmake --build BUILD --target bastion-bench-echo) or pass --echo" >&2
  exit 1
fi
# The CMAKE_BUILD_TYPE of the build tree a binary comes from ("" if unknown).
build_type() {
  local d; d=$(dirname "$1")
  while [ "$d" != / ]; do
    if [ -f "$d/CMakeCache.txt" ]; then sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$d/CMakeCache.txt"; return; fi
    d=$(dirname "$d")
  done
}

bastion_build_type=""
if [ -n "$bastion_bin" ]; then
  bastion_build_type=$(build_type "$bastion_bin")
  log "bastion: $bastion_bin (${bastion_build_type:-unknown build type})"
  case "$bastion_build_type" in
    Release|RelWithDebInfo|MinSizeRel) ;;
    *) [ $smoke = 1 ] || log "WARNING: not an optimised build; the numbers will not mean much" ;;
  esac
fi
log "echo server: $echo_bin; demo agent: ${demo_bin:-not found}"

# ---- scenarios ---------------------------------------------------------------------------------
declare -A SC_SERVER SC_PATH SC_ERA SC_TOOL SC_BASE SC_VERSUS SC_STATUS SC_REASON
ALL_NAMES=()
for row in "${SCENARIO_TABLE[@]}"; do
  IFS='|' read -r name server path era tool base versus <<<"$row"
  ALL_NAMES+=("$name")
  SC_SERVER[$name]=$server SC_PATH[$name]=$path SC_ERA[$name]=$era SC_TOOL[$name]=$tool SC_BASE[$name]=$base
  SC_VERSUS[$name]=$versus
done
SELECTED=()
[ "$scenarios" != all ] || scenarios=$(IFS=,; echo "${ALL_NAMES[*]}")
wanted=()
[ "$scenarios" = none ] || IFS=',' read -r -a wanted <<<"$scenarios"
for name in "${wanted[@]}"; do
  [ -n "${SC_SERVER[$name]+x}" ] || { echo "run.sh: unknown scenario '$name'" >&2; exit 2; }
  SELECTED+=("$name")
  SC_STATUS[$name]=pending SC_REASON[$name]=""
done

fail_scenario() {  # name reason
  if [ "${SC_STATUS[$1]}" != failed ]; then
    SC_STATUS[$1]=failed SC_REASON[$1]=$2
    log "FAILED $1: $2"
  fi
}
skip_scenario() {  # name reason: its peer is not installed; the run goes on without it
  SC_STATUS[$1]=skipped SC_REASON[$1]=$2
  log "SKIPPED $1: $2"
}

# ---- processes ---------------------------------------------------------------------------------
tmp=$(mktemp -d /tmp/bastion-bench.XXXXXX)
chmod 755 "$tmp"  # Bastion drops privileges (run_as) and must still reach its data dir here
[ -n "$results" ] || { if [ $smoke = 1 ]; then results=$tmp/results.json; else results=$BENCH/results/latest.json; fi; }
PIDS=()

# All descendants of a process (a peer may run its stdio agent through a shell), depth-bounded.
descendants() {  # pid -> pids, one a line
  local level=("$1") next kid depth
  for ((depth = 0; depth < 8 && ${#level[@]} > 0; depth++)); do
    next=()
    for kid in $(for p in "${level[@]}"; do pgrep -P "$p"; done); do
      echo "$kid"
      next+=("$kid")
    done
    level=("${next[@]}")
  done
}

# True while a process runs (a zombie, exited but not yet reaped, does not count).
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# shellcheck disable=SC2317  # stop_pid and cleanup run from the EXIT trap
stop_pid() {  # TERM, then KILL after 5 s; its descendants (stdio agents, workers) must be gone too
  local pid=$1 kids i
  kids=$(descendants "$pid")
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 250; i++)); do alive "$pid" || break; sleep 0.02; done
    if alive "$pid"; then
      log "pid $pid ignored SIGTERM for 5 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  local status=0
  wait "$pid" 2>/dev/null || status=$?
  # A server that crashes or dies by a signal on SIGTERM is a failure, not noise.
  if [ "$status" -ne 0 ] && [ "$status" -ne 143 ]; then
    log "pid $pid exited with status $status on SIGTERM"
    STOP_FAILED=1
  fi
  for kid in $kids; do
    if alive "$kid"; then
      log "child $kid of $pid outlived it; stopping it"
      kill -KILL "$kid" 2>/dev/null || true
    fi
  done
}
# shellcheck disable=SC2317
cleanup() {
  local rc=$? i
  STOP_FAILED=0
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[$i]}"; done
  if [ "$STOP_FAILED" = 1 ] && [ "$rc" = 0 ]; then rc=1; fi
  if [ "$keep_temp" = 1 ] || [ "$rc" = 1 ]; then  # a failed run keeps its logs for a look
    log "temp dir kept: $tmp"
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits (bounded) for a file to hold a line matching a pattern while its process lives.
wait_for_line() {  # file pattern pid seconds
  local i
  for ((i = 0; i < $4 * 50; i++)); do
    if [ -s "$1" ] && grep -q "$2" "$1"; then return 0; fi
    alive "$3" || return 1
    sleep 0.02
  done
  return 1
}

declare -A SERVER_URL SERVER_PID SERVER_ERR SERVER_LOG SERVER_SKIP
BASTION_LIMITS='{max_in_flight_per_client: 100000}'
RSS_FILE=$tmp/rss.tsv
: >"$RSS_FILE"

rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status" 2>/dev/null || true; }
record_rss() {  # server phase
  local pid=${SERVER_PID[$1]} kid
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$(rss_kib "$pid")" "$pid" >>"$RSS_FILE"
  for kid in $(descendants "$pid"); do
    printf '%s\t%s\t%s\t%s\n' "$1/child" "$2" "$(rss_kib "$kid")" "$kid" >>"$RSS_FILE"
  done
}

start_echo() {  # [server-name, default echo]
  local name=${1:-echo}
  local out=$tmp/$name.port
  "${PIN_SERVER[@]}" "$echo_bin" --port 0 --threads "$echo_threads" >"$out" 2>"$tmp/$name.log" &
  SERVER_PID[$name]=$! SERVER_LOG[$name]=$tmp/$name.log
  PIDS+=("${SERVER_PID[$name]}")
  if ! wait_for_line "$out" '^[0-9][0-9]*$' "${SERVER_PID[$name]}" 10; then
    SERVER_ERR[$name]="bastion-bench-echo did not start: $(tail -3 "$tmp/$name.log" | tr '\n' ' ')"
    return 1
  fi
  SERVER_URL[$name]=http://127.0.0.1:$(head -1 "$out")
  log "$name on ${SERVER_URL[$name]} (pid ${SERVER_PID[$name]})"
}

# The federated scenario: --fed-upstreams echo servers (one process each, so that every upstream
# is a real, separate server) and the upstreams section naming them u0, u1, ...: Bastion prefixes
# each upstream's tools on /mcp, so the list holds u0__echo ... u9__echo.
FED_UPSTREAMS_YAML="" FED_TOOLS=""
start_fed_echoes() {
  local i lines=() tools=()
  for ((i = 0; i < fed_upstreams; i++)); do
    start_echo "fed-echo-$i" || { SERVER_ERR[bastion-fed10]="fed-echo-$i: ${SERVER_ERR[fed-echo-$i]}"; return 1; }
    lines+=("u$i: {url: \"${SERVER_URL[fed-echo-$i]}/mcp\"}")
    tools+=("u${i}__echo")
  done
  FED_UPSTREAMS_YAML=$(printf '%s\n  ' "${lines[@]}")
  FED_TOOLS=$(IFS=,; echo "${tools[*]}")
}

start_bastion() {  # server-name upstream-yaml-line [public-listener-yaml rate-limits-yaml extra-yaml]
  local name=$1 dir=$tmp/$1 pub adm i scheme=http
  local public=${3:-'{address: "127.0.0.1:0"}'} zones=${4:-'[]'} extra=${5:-}
  if [ -z "$bastion_bin" ] || [ ! -x "$bastion_bin" ]; then
    SERVER_ERR[$name]="bastion binary not found (build it or pass --bastion)"
    return 1
  fi
  mkdir -p "$dir" && chmod 755 "$dir"
  cat >"$dir/bastion.yaml" <<EOF
# Generated by bench/run.sh. Defaults everywhere else (as an operator would run it).
data_dir: $dir/data
listen:
  public: $public
  admin: {address: "127.0.0.1:0"}
# The default zone (10 requests/minute per client, as the seed asks) would measure the limiter,
# and wrk is one client: its 256 connections would meet the per-client in-flight cap (64).
rate_limits: $zones
limits: $BASTION_LIMITS
$extra
upstreams:
  $2
EOF
  "${PIN_SERVER[@]}" "$bastion_bin" serve -c "$dir/bastion.yaml" --ready-file "$dir/ready" \
    >"$dir/bastion.log" 2>&1 &
  SERVER_PID[$name]=$! SERVER_LOG[$name]=$dir/bastion.log
  PIDS+=("${SERVER_PID[$name]}")
  if ! wait_for_line "$dir/ready" '"public"' "${SERVER_PID[$name]}" 20; then
    SERVER_ERR[$name]="bastion did not become ready: $(tail -3 "$dir/bastion.log" | tr '\n' ' ')"
    return 1
  fi
  pub=$(sed -n 's/.*"public":"\([^"]*\)".*/\1/p' "$dir/ready")
  adm=$(sed -n 's/.*"admin":"\([^"]*\)".*/\1/p' "$dir/ready")
  case "$public" in *tls:*) scheme=https ;; esac
  SERVER_URL[$name]=$scheme://$pub
  # /readyz turns 200 once an upstream is ready; a broken upstream is reported by the probe.
  for ((i = 0; i < 500; i++)); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$adm/readyz" || true)" = 200 ] && break
    alive "${SERVER_PID[$name]}" || break
    sleep 0.02
  done
  log "$name on ${SERVER_URL[$name]} (pid ${SERVER_PID[$name]}, admin $adm)"
  [ "${NO_RSS:-0}" = 1 ] || record_rss "$name" idle
}

# A self-signed EC P-256 certificate for localhost and 127.0.0.1: DIR/cert.pem, DIR/key.pem.
make_cert() {  # server dir
  command -v openssl >/dev/null || { SERVER_ERR[$1]="openssl not found (apt-get install openssl)"; return 1; }
  if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj /CN=localhost \
      -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$2/key.pem" -out "$2/cert.pem" \
      >"$2/openssl.log" 2>&1; then
    SERVER_ERR[$1]="openssl req failed: $(tail -3 "$2/openssl.log" | tr '\n' ' ')"
    return 1
  fi
  # Bastion drops to nobody when started as root and reloads both files later: let it read them.
  chmod 644 "$2/key.pem" "$2/cert.pem"
}

# Bastion with its whole front door on: TLS on the public listener (self-signed EC P-256), a
# Bastion bearer token, and a rate-limit zone keyed by token that is far too high to trigger.
declare -A SERVER_CACERT SERVER_AUTH
start_bastion_secure() {  # [server-name [nocheck]]
  local name=${1:-bastion-secure} check=${2:-check} token dir
  dir=$tmp/$name
  if [ -z "$bastion_bin" ] || [ ! -x "$bastion_bin" ]; then
    SERVER_ERR[$name]="bastion binary not found (build it or pass --bastion)"
    return 1
  fi
  mkdir -p "$dir" && chmod 755 "$dir"
  make_cert "$name" "$dir" || return 1
  if ! token=$("$bastion_bin" token create bench --tokens-file "$dir/tokens" 2>"$dir/token.log" | tail -1) ||
     [ -z "$token" ]; then
    SERVER_ERR[$name]="bastion token create failed: $(tail -3 "$dir/token.log" | tr '\n' ' ')"
    return 1
  fi
  chmod 644 "$dir/tokens"
  SERVER_CACERT[$name]=$dir/cert.pem SERVER_AUTH[$name]="Bearer $token"
  start_bastion "$name" "echo: {url: \"${SERVER_URL[echo]}/mcp\"}" \
    "{address: \"127.0.0.1:0\", tls: {cert_file: \"$dir/cert.pem\", key_file: \"$dir/key.pem\"}}" \
    '[{name: bench, match: /mcp, key: token, rate: 1000000r/s, burst: 1000000, nodelay: true}]' \
    "auth: {tokens_file: \"$dir/tokens\"}" || return 1
  [ "$check" = nocheck ] || check_front_door "$name"
}

# The secure numbers mean something only if the door is really shut: a call without the token, or
# with a wrong one, must get 401; an admitted call's headers are left in $tmp/door.headers.
door_shut() {  # server path
  local url=${SERVER_URL[$1]}$2 code body bad
  local args=("${CURL_BASE[@]}" --cacert "${SERVER_CACERT[$1]}" -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call' -H 'Mcp-Name: echo')
  body="{\"jsonrpc\":\"2.0\",\"id\":\"door\",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"message\":\"x\"},$meta_2026}}"
  code=$("${args[@]}" -o /dev/null -w '%{http_code}' -d "$body" "$url" 2>/dev/null || true)
  if [ "$code" != 401 ]; then SERVER_ERR[$1]="a call without the bearer token got HTTP ${code:-nothing}, expected 401"; return 1; fi
  bad="${SERVER_AUTH[$1]}x"
  code=$("${args[@]}" -H "Authorization: $bad" -o /dev/null -w '%{http_code}' -d "$body" "$url" 2>/dev/null || true)
  if [ "$code" != 401 ]; then SERVER_ERR[$1]="a call with a wrong bearer token got HTTP ${code:-nothing}, expected 401"; return 1; fi
  code=$("${args[@]}" -H "Authorization: ${SERVER_AUTH[$1]}" -o /dev/null -w '%{http_code}' \
    -D "$tmp/door.headers" -d "$body" "$url" 2>/dev/null || true)
  if [ "$code" != 200 ]; then SERVER_ERR[$1]="a call with the bearer token got HTTP ${code:-nothing}, expected 200"; return 1; fi
}
# Bastion: shut, and an admitted call passed the rate-limit zone (its RateLimit headers).
check_front_door() {  # server
  door_shut "$1" /mcp/echo || return 1
  if ! grep -qi '^RateLimit-Policy:.*"bench"' "$tmp/door.headers"; then
    SERVER_ERR[$1]="an authenticated call carried no RateLimit-Policy of zone bench: $(head -c 300 "$tmp/door.headers" | tr '\r\n' '  ')"
    return 1
  fi
}

# A free loopback port for servers that cannot report the one they bound (nginx, the npm peers).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (bounded) until a URL answers anything over HTTP while its process lives.
wait_for_http() {  # url pid seconds [curl options...]
  local i code
  for ((i = 0; i < $3 * 10; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "${@:4}" "$1" 2>/dev/null || true)
    if [ -n "$code" ] && [ "$code" != 000 ]; then return 0; fi
    alive "$2" || return 1
    sleep 0.1
  done
  return 1
}

# nginx with the seed's front door (bench/peers/nginx.conf.in) in front of the echo server, with
# its auth_request service: a second bastion-bench-echo that answers /auth for one bearer token.
# Both are front-door CPU; the echo server behind is the upstream, as for bastion-secure.
NGINX_BIN=""
start_nginx() {
  local name=nginx dir=$tmp/nginx port token auth_pid i
  NGINX_BIN=$(command -v nginx || true)
  [ -n "$NGINX_BIN" ] || { [ ! -x /usr/sbin/nginx ] || NGINX_BIN=/usr/sbin/nginx; }
  if [ -z "$NGINX_BIN" ]; then
    SERVER_SKIP[$name]="not installed: run apt-get install -y nginx"
    return 1
  fi
  mkdir -p "$dir/tmp" && chmod 755 "$dir"
  make_cert "$name" "$dir" || return 1
  token=$(python3 -c 'import secrets; print("bench_" + secrets.token_urlsafe(32))')
  (umask 077 && printf '%s\n' "$token" >"$dir/token")
  "${PIN_SERVER[@]}" "$echo_bin" --port 0 --threads 1 --auth-token-file "$dir/token" \
    >"$dir/auth.port" 2>"$dir/auth.log" &
  auth_pid=$!
  SERVER_PID[nginx-auth]=$auth_pid
  PIDS+=("$auth_pid")
  if ! wait_for_line "$dir/auth.port" '^[0-9][0-9]*$' "$auth_pid" 10; then
    SERVER_ERR[$name]="the auth service did not start: $(tail -3 "$dir/auth.log" | tr '\n' ' ')"
    return 1
  fi
  port=$(free_port)
  sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" -e "s|@UPSTREAM@|${SERVER_URL[echo]#http://}|g" \
    -e "s|@AUTH@|127.0.0.1:$(head -1 "$dir/auth.port")|g" "$BENCH/peers/nginx.conf.in" >"$dir/nginx.conf"
  "${PIN_SERVER[@]}" "$NGINX_BIN" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/nginx.log" 2>&1 &
  SERVER_PID[$name]=$! SERVER_LOG[$name]=$dir/error.log
  PIDS+=("${SERVER_PID[$name]}")
  SERVER_URL[$name]=https://127.0.0.1:$port SERVER_CACERT[$name]=$dir/cert.pem SERVER_AUTH[$name]="Bearer $token"
  if ! wait_for_http "${SERVER_URL[$name]}/" "${SERVER_PID[$name]}" 10 --cacert "$dir/cert.pem"; then
    SERVER_ERR[$name]="nginx did not start: $(cat "$dir/nginx.log" "$dir/error.log" 2>/dev/null | tail -3 | tr '\n' ' ')"
    return 1
  fi
  # The master has started its worker once it answers; the worker's pid is what CPU is read from.
  for ((i = 0; i < 50; i++)); do [ -n "$(descendants "${SERVER_PID[$name]}")" ] && break; sleep 0.02; done
  log "$name on ${SERVER_URL[$name]} (pid ${SERVER_PID[$name]}, workers $(descendants "${SERVER_PID[$name]}" | tr '\n' ' ')auth service pid $auth_pid)"
  record_rss "$name" idle
  door_shut "$name" /mcp || return 1
  local h
  for h in Content-Security-Policy X-Frame-Options X-Content-Type-Options Referrer-Policy Strict-Transport-Security; do
    if ! grep -qi "^$h:" "$tmp/door.headers"; then
      SERVER_ERR[$name]="an admitted call lacks the $h header: $(head -c 400 "$tmp/door.headers" | tr '\r\n' '  ')"
      return 1
    fi
  done
}

# The npm stdio bridges, installed by `npm ci` in bench/peers, in front of the same stdio agent as
# bastion-stdio (the command lines their documentation gives). Pinned with Bastion's CPU: the node
# process and its agent share the one server CPU as Bastion and its agent do.
PEERS_BIN=$BENCH/peers/node_modules/.bin
start_stdio_peer() {  # server (supergateway | mcp-proxy)
  local name=$1 dir=$tmp/$1 port cmd=()
  if [ ! -x "$PEERS_BIN/$name" ]; then
    SERVER_SKIP[$name]="not installed: run (cd bench/peers && npm ci)"
    return 1
  fi
  if [ -z "$demo_bin" ] || [ ! -x "$demo_bin" ]; then
    SERVER_ERR[$name]="bastion-demo-agent not found (build it or pass --demo-agent)"
    return 1
  fi
  mkdir -p "$dir"
  port=$(free_port)
  case $name in
    # supergateway binds every interface (it has no option for the address); --stateful starts
    # one agent per session.
    supergateway) cmd=("$PEERS_BIN/supergateway" --stdio "$demo_bin" --outputTransport streamableHttp
                       --stateful --port "$port" --logLevel none) ;;
    mcp-proxy) cmd=("$PEERS_BIN/mcp-proxy" --host 127.0.0.1 --port "$port" -- "$demo_bin") ;;
  esac
  "${PIN_SERVER[@]}" "${cmd[@]}" >"$dir/peer.log" 2>&1 &
  SERVER_PID[$name]=$! SERVER_LOG[$name]=$dir/peer.log
  PIDS+=("${SERVER_PID[$name]}")
  SERVER_URL[$name]=http://127.0.0.1:$port
  # Node takes a few seconds to load on a busy machine.
  if ! wait_for_http "${SERVER_URL[$name]}/mcp" "${SERVER_PID[$name]}" 60; then
    SERVER_ERR[$name]="$name did not start: $(tail -3 "$dir/peer.log" | tr '\n' ' ')"
    return 1
  fi
  log "$name on ${SERVER_URL[$name]} (pid ${SERVER_PID[$name]})"
  record_rss "$name" idle
}

ensure_server() {  # server -> 0 when running
  local s=$1
  [ -n "${SERVER_ERR[$s]+x}" ] && return 1
  [ -n "${SERVER_SKIP[$s]+x}" ] && return 1
  if [ -z "${SERVER_PID[$s]+x}" ]; then
    case $s in
      echo) start_echo || true ;;
      bastion-http)
        ensure_server echo || { SERVER_ERR[$s]="needs the echo server: ${SERVER_ERR[echo]}"; return 1; }
        start_bastion "$s" "echo: {url: \"${SERVER_URL[echo]}/mcp\"}" || true ;;
      bastion-secure)
        ensure_server echo || { SERVER_ERR[$s]="needs the echo server: ${SERVER_ERR[echo]}"; return 1; }
        start_bastion_secure || true ;;
      bastion-nostore|bastion-sqlite-sync|bastion-pg)
        ensure_server echo || { SERVER_ERR[$s]="needs the echo server: ${SERVER_ERR[echo]}"; return 1; }
        local store
        case $s in
          bastion-nostore) store="store: off" ;;
          bastion-sqlite-sync) store="store: {durability: sync}" ;;
          bastion-pg)
            if [ -z "${BASTION_TEST_PG_URL:-}" ]; then
              SERVER_ERR[$s]="no PostgreSQL: run under tests/services/postgres.sh (sets BASTION_TEST_PG_URL)"
              store=""
            else
              # Run as root, Bastion reads the password as nobody, after dropping privileges.
              install -m 400 "$BASTION_TEST_PG_PASSWORD_FILE" "$tmp/pg-password"
              if [ "$(id -u)" = 0 ]; then chown nobody "$tmp/pg-password"; fi
              store="store: {url: \"$BASTION_TEST_PG_URL\", password_file: \"$tmp/pg-password\"}"
            fi ;;
        esac
        [ -n "$store" ] && { start_bastion "$s" "echo: {url: \"${SERVER_URL[echo]}/mcp\"}" '{address: "127.0.0.1:0"}' '[]' "$store" || true; } ;;
      nginx)
        ensure_server echo || { SERVER_ERR[$s]="needs the echo server: ${SERVER_ERR[echo]}"; return 1; }
        start_nginx || true ;;
      supergateway|mcp-proxy) start_stdio_peer "$s" || true ;;
      bastion-fed10)
        if start_fed_echoes; then start_bastion "$s" "$FED_UPSTREAMS_YAML" || true; fi ;;
      bastion-stdio)
        if [ -z "$demo_bin" ] || [ ! -x "$demo_bin" ]; then
          SERVER_ERR[$s]="bastion-demo-agent not found (build it or pass --demo-agent)"
        else
          start_bastion "$s" "demo: {command: \"$demo_bin\"}" || true
        fi ;;
      *) SERVER_ERR[$s]="no start function for server '$s'" ;;
    esac
  fi
  [ -n "${SERVER_SKIP[$s]+x}" ] && return 1
  [ -n "${SERVER_ERR[$s]+x}" ] && return 1
  if ! alive "${SERVER_PID[$s]}"; then
    SERVER_ERR[$s]="$s exited: $(tail -3 "${SERVER_LOG[$s]}" | tr '\n' ' ')"
    return 1
  fi
  return 0
}

# ---- MCP probes (curl) -------------------------------------------------------------------------
CURL_BASE=(curl -sS --max-time 10 -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
CURL=("${CURL_BASE[@]}")
# The probes of one server: its CA and bearer token when it has them.
curl_for() {  # server
  CURL=("${CURL_BASE[@]}")
  if [ -n "${SERVER_CACERT[$1]:-}" ]; then CURL+=(--cacert "${SERVER_CACERT[$1]}"); fi
  if [ -n "${SERVER_AUTH[$1]:-}" ]; then CURL+=(-H "Authorization: ${SERVER_AUTH[$1]}"); fi
}
meta_2026='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}'
PROBE_ERR=""

# Checks one reply: status 200 and the echoed text in the body.
check_echo_reply() {  # code body-file what
  if [ "$1" != 200 ]; then PROBE_ERR="$3: HTTP $1: $(head -c 300 "$2")"; return 1; fi
  if ! grep -qF "\"text\":\"$message\"" "$2"; then PROBE_ERR="$3: HTTP 200 without the echo: $(head -c 300 "$2")"; return 1; fi
}

probe_2026() {  # url tool
  local code
  code=$("${CURL[@]}" -o "$tmp/probe.body" -w '%{http_code}' -H 'MCP-Protocol-Version: 2026-07-28' \
    -H 'Mcp-Method: tools/call' -H "Mcp-Name: $2" \
    -d "{\"jsonrpc\":\"2.0\",\"id\":\"probe\",\"method\":\"tools/call\",\"params\":{\"name\":\"$2\",\"arguments\":{\"message\":\"$message\"},$meta_2026}}" \
    "$1" 2>"$tmp/probe.err") || { PROBE_ERR="tools/call: curl: $(cat "$tmp/probe.err")"; return 1; }
  check_echo_reply "$code" "$tmp/probe.body" "tools/call (2026-07-28)"
}

# tools/list on a federated endpoint: 200, and every upstream's tool listed exactly once.
LIST_TIME=""
probe_list_2026() {  # url -> LIST_TIME (seconds, curl's time_total)
  local out name n
  out=$("${CURL[@]}" -o "$tmp/probe.body" -w '%{http_code} %{time_total}' -H 'MCP-Protocol-Version: 2026-07-28' \
    -H 'Mcp-Method: tools/list' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":\"probe\",\"method\":\"tools/list\",\"params\":{$meta_2026}}" \
    "$1" 2>"$tmp/probe.err") || { PROBE_ERR="tools/list: curl: $(cat "$tmp/probe.err")"; return 1; }
  LIST_TIME=${out#* }
  if [ "${out%% *}" != 200 ]; then PROBE_ERR="tools/list: HTTP ${out%% *}: $(head -c 300 "$tmp/probe.body")"; return 1; fi
  for name in ${FED_TOOLS//,/ }; do
    n=$(grep -o "\"name\":\"$name\"" "$tmp/probe.body" | wc -l)
    if [ "$n" != 1 ]; then
      PROBE_ERR="tools/list: $name listed $n times (expected once): $(head -c 300 "$tmp/probe.body")"
      return 1
    fi
  done
}

SESSION_ID="" SESSION_VERSION=""
open_session() {  # url -> SESSION_ID, SESSION_VERSION
  local code
  SESSION_ID="" SESSION_VERSION=""
  code=$("${CURL[@]}" -o "$tmp/init.body" -D "$tmp/init.headers" -w '%{http_code}' \
    -d '{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bastion-bench","version":"1"}}}' \
    "$1" 2>"$tmp/probe.err") || { PROBE_ERR="initialize: curl: $(cat "$tmp/probe.err")"; return 1; }
  if [ "$code" != 200 ]; then PROBE_ERR="initialize: HTTP $code: $(head -c 300 "$tmp/init.body")"; return 1; fi
  SESSION_ID=$(tr -d '\r' <"$tmp/init.headers" | sed -n 's/^[Mm][Cc][Pp]-[Ss][Ee][Ss][Ss][Ii][Oo][Nn]-[Ii][Dd]: *//p' | head -1)
  SESSION_VERSION=$(grep -o '"protocolVersion":"[^"]*"' "$tmp/init.body" | head -1 | cut -d'"' -f4)
  [ -n "$SESSION_ID" ] || { PROBE_ERR="initialize: HTTP 200 without an Mcp-Session-Id: $(head -c 300 "$tmp/init.body")"; return 1; }
  [ -n "$SESSION_VERSION" ] || SESSION_VERSION=2025-11-25
  code=$("${CURL[@]}" -o "$tmp/probe.body" -w '%{http_code}' -H "Mcp-Session-Id: $SESSION_ID" \
    -H "MCP-Protocol-Version: $SESSION_VERSION" \
    -d '{"jsonrpc":"2.0","method":"notifications/initialized"}' "$1" 2>"$tmp/probe.err") ||
    { PROBE_ERR="notifications/initialized: curl: $(cat "$tmp/probe.err")"; return 1; }
  if [ "$code" != 202 ]; then PROBE_ERR="notifications/initialized: HTTP $code (expected 202): $(head -c 300 "$tmp/probe.body")"; return 1; fi
}

probe_2025() {  # url tool (after open_session)
  local code
  code=$("${CURL[@]}" -o "$tmp/probe.body" -w '%{http_code}' -H "Mcp-Session-Id: $SESSION_ID" \
    -H "MCP-Protocol-Version: $SESSION_VERSION" \
    -d "{\"jsonrpc\":\"2.0\",\"id\":\"probe\",\"method\":\"tools/call\",\"params\":{\"name\":\"$2\",\"arguments\":{\"message\":\"$message\"}}}" \
    "$1" 2>"$tmp/probe.err") || { PROBE_ERR="tools/call: curl: $(cat "$tmp/probe.err")"; return 1; }
  check_echo_reply "$code" "$tmp/probe.body" "tools/call (session $SESSION_VERSION)"
}

close_session() {  # url
  [ -n "$SESSION_ID" ] || return 0
  "${CURL[@]}" -o /dev/null -X DELETE -H "Mcp-Session-Id: $SESSION_ID" -H "MCP-Protocol-Version: $SESSION_VERSION" "$1" 2>/dev/null || true
  SESSION_ID=""
}

# Makes a scenario runnable: its server up, one good tools/call, and for 2025 a fresh session.
prepare() {  # name -> 0 ready
  local name=$1 server=${SC_SERVER[$1]} url
  if ! ensure_server "$server"; then
    if [ -n "${SERVER_SKIP[$server]+x}" ]; then skip_scenario "$name" "${SERVER_SKIP[$server]}"
    else fail_scenario "$name" "${SERVER_ERR[$server]}"; fi
    return 1
  fi
  url=${SERVER_URL[$server]}${SC_PATH[$name]}
  curl_for "$server"
  if [ "${SC_TOOL[$name]}" = tools/list ]; then
    probe_list_2026 "$url" && return 0
  elif [ "${SC_ERA[$name]}" = 2026 ]; then
    probe_2026 "$url" "${SC_TOOL[$name]}" && return 0
  else
    open_session "$url" && probe_2025 "$url" "${SC_TOOL[$name]}" && return 0
    close_session "$url"
  fi
  fail_scenario "$name" "$PROBE_ERR; log: $(tail -3 "${SERVER_LOG[$server]}" | tr '\n' ' ')"
  return 1
}

# CPU time (user + system, in clock ticks) of the processes behind a scenario, split into the
# front door (Bastion) and the upstream (echo server or stdio agents): CPU per request is a
# steadier measure than throughput on a machine whose CPUs are shared.
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {  # pid... -> summed utime+stime
  local pid stat fields total=0
  for pid in "$@"; do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    read -r -a fields <<<"${stat##*) }"
    total=$((total + fields[11] + fields[12]))  # fields 14 and 15 of stat(5)
  done
  echo "$total"
}
scenario_pids() {  # server role -> pids of that role
  local server=$1
  case "$server:$2" in
    echo:upstream) echo "${SERVER_PID[echo]}" ;;
    # nginx's front door is its master, its worker and its auth_request service.
    nginx:front) echo "${SERVER_PID[nginx]}"; descendants "${SERVER_PID[nginx]}"; echo "${SERVER_PID[nginx-auth]}" ;;
    nginx:upstream) echo "${SERVER_PID[echo]}" ;;
    supergateway:front|mcp-proxy:front) echo "${SERVER_PID[$server]}" ;;
    supergateway:upstream|mcp-proxy:upstream) descendants "${SERVER_PID[$server]}" ;;
    bastion-http:front) echo "${SERVER_PID[$server]}" ;;
    bastion-http:upstream|bastion-secure:upstream) echo "${SERVER_PID[echo]}" ;;
    bastion-fed10:upstream) local i; for ((i = 0; i < fed_upstreams; i++)); do echo "${SERVER_PID[fed-echo-$i]}"; done ;;
    bastion-*:front) echo "${SERVER_PID[$server]}" ;;
    bastion-*:upstream) pgrep -P "${SERVER_PID[$server]}" || true ;;
  esac
}

RUNS=$tmp/runs.jsonl
: >"$RUNS"
run_wrk() {  # name connections seconds round(0 = warm-up)
  local name=$1 c=$2 secs=$3 round=$4 server=${SC_SERVER[$1]} url script t out line
  url=${SERVER_URL[$server]}${SC_PATH[$name]}
  script=$BENCH/wrk/tools_call_${SC_ERA[$name]}.lua
  [ "${SC_TOOL[$name]}" != tools/list ] || script=$BENCH/wrk/tools_list_${SC_ERA[$name]}.lua
  t=$wrk_threads; [ "$t" -le "$c" ] || t=$c
  out=$tmp/wrk-$name-c$c-r$round.txt
  local front_pids upstream_pids front0 upstream0
  front_pids=$(scenario_pids "$server" front) upstream_pids=$(scenario_pids "$server" upstream)
  # shellcheck disable=SC2086  # pid lists
  front0=$(cpu_ticks $front_pids) upstream0=$(cpu_ticks $upstream_pids)
  BENCH_TOOL=${SC_TOOL[$name]} BENCH_MESSAGE=$message BENCH_SESSION_ID=$SESSION_ID BENCH_EXPECT_TOOLS=$FED_TOOLS \
    BENCH_PROTOCOL_VERSION=$SESSION_VERSION BENCH_AUTHORIZATION=${SERVER_AUTH[$server]:-} \
    "${PIN_WRK[@]}" wrk -t "$t" -c "$c" -d "${secs}s" --timeout 5s -s "$script" "$url" >"$out" 2>&1 &
  # In the background so that a signal reaches the EXIT trap at once, not after the run.
  local wrk_pid=$!
  PIDS+=("$wrk_pid")
  wait "$wrk_pid" || true
  unset 'PIDS[-1]'
  if [ "$round" = 0 ]; then return 0; fi
  line=$(sed -n 's/^BENCH_RESULT //p' "$out" | tail -1)
  if [ -z "$line" ]; then
    fail_scenario "$name" "wrk produced no result (c=$c): $(tail -3 "$out" | tr '\n' ' ')"
    return 1
  fi
  # shellcheck disable=SC2086
  printf '{"scenario":"%s","connections":%s,"round":%s,"cpu_ticks":{"front":%s,"upstream":%s},"result":%s}\n' \
    "$name" "$c" "$round" $(($(cpu_ticks $front_pids) - front0)) $(($(cpu_ticks $upstream_pids) - upstream0)) \
    "$line" >>"$RUNS"
  python3 "$BENCH/summarize.py" --line "$(tail -1 "$RUNS")" --clk-tck "$CLK_TCK" | sed "s/^/[bench] r$round c=$c $(printf '%-20s' "$name") /" >&2
}

# The cold federated list: the first tools/list after a start finds no cached catalog and asks
# every upstream; the next one is served from the catalogs, which stay cached until an upstream
# sends notifications/tools/list_changed (the echo servers never do; a SIGHUP keeps unchanged
# upstreams and their catalogs). So each sample is a fresh Bastion with the same configuration,
# timed with curl (time_total, connection included) for the first and for the second list, and
# by Bastion itself: the latency_ms of both in its interaction records (read once it stopped).
COLD_FILE=$tmp/cold.tsv
: >"$COLD_FILE"
measure_cold_list() {  # scenario
  local name=$1 k pid cold second p rest server
  for ((k = 1; k <= cold_starts; k++)); do
    rm -rf "$tmp/bastion-fed10-cold"
    PROBE_ERR=""
    unset 'SERVER_ERR[bastion-fed10-cold]'
    if ! NO_RSS=1 start_bastion bastion-fed10-cold "$FED_UPSTREAMS_YAML"; then
      fail_scenario "$name" "cold start $k: ${SERVER_ERR[bastion-fed10-cold]}"
      return 1
    fi
    pid=${SERVER_PID[bastion-fed10-cold]}
    curl_for bastion-fed10-cold
    if probe_list_2026 "${SERVER_URL[bastion-fed10-cold]}/mcp"; then
      cold=$LIST_TIME
      probe_list_2026 "${SERVER_URL[bastion-fed10-cold]}/mcp" && second=$LIST_TIME
    fi
    [ -z "$PROBE_ERR" ] || fail_scenario "$name" "cold start $k: $PROBE_ERR"
    STOP_FAILED=0
    stop_pid "$pid"
    rest=()
    for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || rest+=("$p"); done
    PIDS=("${rest[@]}")
    [ "$STOP_FAILED" = 0 ] || fail_scenario "$name" "cold start $k: Bastion failed on SIGTERM"
    if [ -z "$PROBE_ERR" ]; then
      server=$(python3 -c 'import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("select latency_ms from mcp_interactions where method = ? order by rowid limit 2", ("tools/list",)).fetchall()
print(" ".join(f"{r[0] / 1000:.6f}" for r in rows) if len(rows) == 2 else "- -")' "$tmp/bastion-fed10-cold/data/interactions.db" 2>/dev/null || echo "- -")
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$k" "$cold" "$second" "${server% *}" "${server#* }" >>"$COLD_FILE"
      log "cold start $k: first tools/list ${cold}s, second ${second}s (curl); in Bastion ${server% *}s, ${server#* }s"
    fi
    [ "${SC_STATUS[$name]}" != failed ] || return 1
  done
}

# ---- run ---------------------------------------------------------------------------------------
n_conns=$(wc -w <<<"$conns")
estimate=$(( (rounds * n_conns * (duration + 1) + warmup + 1) * ${#SELECTED[@]} ))
log "scenarios: ${SELECTED[*]}"
log "connections: $conns; ${duration}s per run; $rounds round(s); about $((estimate / 60)) min $((estimate % 60)) s"
log "load average before the run: $loadavg_start"
if [ $pin = 1 ]; then log "pinning: wrk on CPU $wrk_cpu; echo server, Bastion and agents on CPU $server_cpu"; fi

for name in "${SELECTED[@]}"; do
  if prepare "$name"; then
    SC_STATUS[$name]=ok
    if [ "$warmup" -gt 0 ]; then run_wrk "$name" 32 "$warmup" 0; fi
    if [ "${SC_ERA[$name]}" = 2025 ]; then close_session "${SERVER_URL[${SC_SERVER[$name]}]}${SC_PATH[$name]}"; fi
    if [ "${SC_SERVER[$name]}" = bastion-fed10 ]; then measure_cold_list "$name" || true; fi
  fi
done

for ((round = 1; round <= rounds; round++)); do
  for c in $conns; do
    for name in "${SELECTED[@]}"; do
      [ "${SC_STATUS[$name]}" = ok ] || continue
      prepare "$name" || continue
      run_wrk "$name" "$c" "$duration" "$round" || true
      if [ "${SC_ERA[$name]}" = 2025 ]; then close_session "${SERVER_URL[${SC_SERVER[$name]}]}${SC_PATH[$name]}"; fi
      server=${SC_SERVER[$name]}
      if ! alive "${SERVER_PID[$server]}"; then
        SERVER_ERR[$server]="$server exited during the run: $(tail -3 "${SERVER_LOG[$server]}" | tr '\n' ' ')"
        for other in "${SELECTED[@]}"; do
          if [ "${SC_SERVER[$other]}" = "$server" ]; then fail_scenario "$other" "${SERVER_ERR[$server]}"; fi
        done
      fi
    done
  done
done

for server in "${!SERVER_PID[@]}"; do
  case $server in echo|nginx-auth|fed-echo-*) continue ;; esac  # upstreams, not front doors
  if alive "${SERVER_PID[$server]}"; then record_rss "$server" after_load; fi
done

# ---- memory phase -------------------------------------------------------------------------------
# A fresh Bastion per config (the generated one, as above), its RSS idle, then with N idle
# keep-alive connections (bench/idle_conns.py: each does one tools/call, then idles; all must
# still answer a second call at the end). Two limits differ from the defaults, and only here:
# max_connections (10,000 by default) leaves room for N plus the warm-up, and idle_timeout
# (60 s) outlasts opening N TLS connections on a busy machine. Neither changes what a connection
# holds in memory.
MEMORY=$tmp/memory.jsonl
: >"$MEMORY"
memory_fail() {  # name reason
  printf '{"name":"%s","ok":false,"failures":["%s"]}\n' "$1" "$(tr '"\\\n' "'/ " <<<"$2")" >>"$MEMORY"
  log "FAILED $1: $2"
}
forget_pid() {  # drops a stopped process from the EXIT trap's list
  local i
  for i in "${!PIDS[@]}"; do [ "${PIDS[$i]}" != "$1" ] || unset "PIDS[$i]"; done
  PIDS=("${PIDS[@]}")
}
memory_phase() {  # config (bastion-http | bastion-secure)
  local config=$1 name=memory-${1#bastion-} server=mem-${1#bastion-} need out pid
  if [ "$config" = bastion-secure ] && ! command -v openssl >/dev/null; then
    log "$name: skipped (openssl not found; apt-get install openssl)"
    return 0
  fi
  need=$((idle_conns + 512))
  if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$need" ]; then
    if ! ulimit -Sn "$need" 2>/dev/null; then
      memory_fail "$name" "RLIMIT_NOFILE: need $need open files, hard limit $(ulimit -Hn) (raise it, or lower --idle-conns)"
      return 1
    fi
  fi
  BASTION_LIMITS="{max_in_flight_per_client: 100000, max_connections: $((idle_conns > 9744 ? idle_conns + 256 : 10000)), idle_timeout: 10m}"
  ensure_server echo || { memory_fail "$name" "needs the echo server: ${SERVER_ERR[echo]}"; return 1; }
  if [ "$config" = bastion-secure ]; then
    # No door check here: its calls would come before the idle reading. The tool's own calls
    # carry the token, and each must get its 200.
    start_bastion_secure "$server" nocheck || true
  else
    start_bastion "$server" "echo: {url: \"${SERVER_URL[echo]}/mcp\"}" || true
  fi
  BASTION_LIMITS='{max_in_flight_per_client: 100000}'
  if [ -n "${SERVER_ERR[$server]+x}" ]; then memory_fail "$name" "${SERVER_ERR[$server]}"; return 1; fi
  pid=${SERVER_PID[$server]} out=$tmp/$server/idle_conns.json
  log "$name: $idle_conns idle connections to ${SERVER_URL[$server]} (pid $pid)"
  local args=(--url "${SERVER_URL[$server]}/mcp/echo" --pid "$pid" --count "$idle_conns" --message "$message")
  [ -z "${SERVER_CACERT[$server]:-}" ] || args+=(--cafile "${SERVER_CACERT[$server]}")
  [ -z "${SERVER_AUTH[$server]:-}" ] || args+=(--authorization "${SERVER_AUTH[$server]}")
  # Pinned like wrk; in the background so that a signal reaches the EXIT trap at once.
  "${PIN_WRK[@]}" python3 "$BENCH/idle_conns.py" "${args[@]}" >"$out" 2>"$out.err" &
  local tool=$!
  PIDS+=("$tool")
  wait "$tool" || true
  forget_pid "$tool"
  if ! grep -q '^{' "$out"; then
    memory_fail "$name" "idle_conns.py printed no result: $(tail -3 "$out.err" | tr '\n' ' ')"
  else
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["name"]=sys.argv[2]; d["config"]=sys.argv[3]; print(json.dumps(d))' \
      "$out" "$name" "$config" >>"$MEMORY"
    python3 "$BENCH/summarize.py" --memory-line "$(tail -1 "$MEMORY")" | sed "s/^/[bench] /" >&2
  fi
  alive "$pid" || memory_fail "$name" "Bastion exited during the memory phase: $(tail -3 "${SERVER_LOG[$server]}" | tr '\n' ' ')"
  # The connections and what they left behind go with the process.
  STOP_FAILED=0
  stop_pid "$pid"
  forget_pid "$pid"
  [ "$STOP_FAILED" = 0 ] || memory_fail "$name" "Bastion did not stop cleanly on SIGTERM after the memory phase"
}
if [ "$idle_conns" -gt 0 ]; then
  for config in "${IDLE_SERVERS[@]}"; do memory_phase "$config" || true; done
fi

STATUS_FILE=$tmp/status.tsv
: >"$STATUS_FILE"
for name in "${SELECTED[@]}"; do
  server=${SC_SERVER[$name]}
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "${SC_STATUS[$name]}" "$server" "${SC_ERA[$name]}" \
    "${SC_PATH[$name]}" "${SC_BASE[$name]}" "$(tr '\t\n' '  ' <<<"${SC_REASON[$name]}")" "${SC_VERSUS[$name]}" >>"$STATUS_FILE"
done

mkdir -p "$(dirname "$results")"
set +e
python3 "$BENCH/summarize.py" --runs "$RUNS" --status "$STATUS_FILE" --rss "$RSS_FILE" --memory "$MEMORY" --cold "$COLD_FILE" \
  --out "$results" --allow-fail "$allow_fail" --smoke "$smoke" --duration "$duration" \
  --rounds "$rounds" --connections "$conns" --wrk-threads "$wrk_threads" --warmup "$warmup" \
  --clk-tck "$CLK_TCK" --pin "$pin" --nice "$nice_level" --loadavg-start "$loadavg_start" --wrk-cpu "$wrk_cpu" --server-cpu "$server_cpu" --echo-threads "$echo_threads" \
  --message "$message" --bastion "$bastion_bin" --bastion-build-type "$bastion_build_type" \
  --echo "$echo_bin" --demo-agent "$demo_bin" --command "bench/run.sh${ORIG_ARGS[*]:+ ${ORIG_ARGS[*]}}"
rc=$?
set -e
if [ $rc = 0 ]; then
  for name in "${SELECTED[@]}"; do
    if [ "${SC_STATUS[$name]}" = skipped ]; then
      log "exit 77: scenarios were skipped (see above); the others passed"
      rc=77
      break
    fi
  done
fi
if [ $smoke = 1 ] && [ "$results" = "$tmp/results.json" ]; then
  log "results: $results (removed with the temp dir unless the run failed or --keep-temp)"
else
  log "results: $results"
fi
exit $rc
