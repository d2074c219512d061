#!/usr/bin/env bash
# Slow HTTP denial of service against the real gateway: slowhttptest runs a slowloris (slow
# headers) attack, then a slow-body (R-U-Dead-Yet) attack, each bounded in time, while a
# legitimate client asks /healthz every 0.5 s from another loopback address. Every legitimate
# request must get 200 during both attacks, and bastion must survive and exit 0 on SIGTERM.
#
# Environment: BASTION_BIN (the bastion binary), BASTION_DEMO_AGENT (bastion-demo-agent).
# Optional: SLOWLORIS_KEEP=1 keeps the work directory (config, logs) for inspection.
# Takes about 45 s (two 20 s attacks plus start-up).
set -uo pipefail

: "${BASTION_BIN:?BASTION_BIN must point at the bastion binary}"
: "${BASTION_DEMO_AGENT:?BASTION_DEMO_AGENT must point at bastion-demo-agent}"
for tool in slowhttptest curl; do
  command -v "$tool" >/dev/null || { echo "slowloris: $tool is not installed" >&2; exit 2; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/bastion-slowloris.XXXXXX")
chmod 755 "$dir"  # bastion runs as nobody after binding
bastion_pid=""
attack_pid=""
cleanup() {
  for p in $attack_pid $bastion_pid; do
    kill "$p" 2>/dev/null || true
  done
  for p in $attack_pid $bastion_pid; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  [[ "${SLOWLORIS_KEEP:-0}" == 1 ]] && echo "slowloris: kept $dir" || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The attack uses 150 connections from 127.0.0.1; the cap leaves room for the legitimate client.
# header_timeout bounds the whole request (headers and body, measured: a request still
# incomplete after it gets 408), so a slow client is cut after 2 s however often it sends.
cat > "$dir/bastion.yaml" <<EOF
listen:
  public: {address: "127.0.0.1:0"}
  admin: {address: "127.0.0.1:0"}
data_dir: "$dir/data"
log: {level: info, format: text}
rate_limits: []
limits:
  header_timeout: 2s
  idle_timeout: 3s
  max_connections: 200
upstreams:
  demo: {command: "$BASTION_DEMO_AGENT"}
EOF

"$BASTION_BIN" serve -c "$dir/bastion.yaml" --ready-file "$dir/ready.json" > "$dir/bastion.log" 2>&1 &
bastion_pid=$!
port=""
for _ in $(seq 1 400); do
  if [[ -s "$dir/ready.json" ]]; then
    port=$(sed -n 's/.*"public" *: *"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$dir/ready.json")
    [[ -n "$port" ]] && break
  fi
  kill -0 "$bastion_pid" 2>/dev/null || break
  sleep 0.05
done
if [[ -z "$port" ]]; then
  echo "slowloris: bastion did not become ready" >&2
  cat "$dir/bastion.log" >&2
  exit 1
fi
echo "slowloris: bastion pid $bastion_pid on 127.0.0.1:$port"

failures=0
strip() { tr '\r' '\n' < "$1" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g'; }

# Keeps slowhttptest "$@" attacking for ATTACK_SECONDS (it stops by itself once the server has
# closed all its connections, so it is restarted), while the legitimate client asks /healthz
# every 0.5 s from 127.0.0.2 (the attack comes from 127.0.0.1: per-client limits stay out of it).
ATTACK_SECONDS=20
attack() {
  local label=$1; shift
  local out="$dir/$label.txt"
  : > "$out"
  (
    child=""
    trap '[[ -n "$child" ]] && kill "$child" 2>/dev/null; exit 0' TERM
    end=$(( $(date +%s) + ATTACK_SECONDS ))
    for run in $(seq 1 20); do
      (( $(date +%s) < end )) || break
      echo "=== run $run" >> "$out"
      timeout 30 slowhttptest "$@" -l $(( end - $(date +%s) + 1 )) >> "$out" 2>&1 &
      child=$!
      wait "$child"
      child=""
    done
  ) &
  attack_pid=$!
  local asked=0 answered=0 codes="" started=$SECONDS
  for _ in $(seq 1 $(( ATTACK_SECONDS * 2 ))); do
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --interface 127.0.0.2 "http://127.0.0.1:$port/healthz")
    asked=$((asked + 1))
    if [[ "$code" == 200 ]]; then answered=$((answered + 1)); else codes+=" #$asked:$code"; fi
    sleep 0.5
  done
  # The attacker stops by itself at its deadline (each run is bounded by -l and timeout 30).
  wait "$attack_pid"
  attack_pid=""
  local text runs
  text=$(strip "$out")  # (grep -q on a pipe would SIGPIPE the writer and trip pipefail)
  runs=$(grep -c "^=== run" <<< "$text")
  echo "---- slowhttptest ($label): $runs run(s) in $(( SECONDS - started )) s; summary of the first ----"
  awk '/^=== run 2/ { exit } { print }' <<< "$text" | grep -E \
    'test type|number of connections|interval between|test duration|initializing|pending|connected|error|closed|service available|Exit status' | tail -n 11
  echo "runs ended: $(grep -o 'Exit status: .*' <<< "$text" | sort | uniq -c | tr -s ' \n' ' ')"
  echo "legitimate client ($label): $answered/$asked answered 200"
  if (( answered != asked )); then
    echo "FAIL ($label): legitimate requests not answered 200:$codes" >&2; failures=$((failures + 1))
  fi
  if ! grep -qE '^connected: +[1-9]' <<< "$text"; then
    echo "FAIL ($label): the attack never held a connection" >&2; failures=$((failures + 1))
  fi
  # slowhttptest's own probe (a normal request every few seconds, 3 s timeout) agrees.
  if grep -qE '^service available: +NO' <<< "$text"; then
    echo "FAIL ($label): slowhttptest's probe found the service unavailable" >&2; failures=$((failures + 1))
  fi
  # Without the server's timeouts slowhttptest would hold its connections until its deadline.
  if ! grep -q 'Exit status: No open connections left' <<< "$text"; then
    echo "FAIL ($label): the server never closed all slow connections before the attacker's deadline" >&2
    failures=$((failures + 1))
  fi
  if ! kill -0 "$bastion_pid" 2>/dev/null; then
    echo "FAIL ($label): bastion died" >&2; tail -n 50 "$dir/bastion.log" >&2; exit 1
  fi
}

# Slowloris: 150 connections, each adding a header line of up to 24 bytes every second (never
# idle long enough for idle_timeout: header_timeout must cut them).
attack slow-headers -H -c 150 -i 1 -r 50 -t GET -u "http://127.0.0.1:$port/healthz" -x 24 -p 3
# Slow body: complete headers announcing 65536 bytes, then up to 24 bytes of body every second.
attack slow-body -B -c 150 -i 1 -r 50 -t POST -s 65536 -f application/json \
  -m 'application/json, text/event-stream' -u "http://127.0.0.1:$port/mcp" -x 24 -p 3

# Still serving after both attacks, then a clean shutdown.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/healthz")
[[ "$code" == 200 ]] || { echo "FAIL: /healthz after the attacks answered $code" >&2; failures=$((failures + 1)); }
kill -TERM "$bastion_pid"
exit_status=""
for _ in $(seq 1 300); do
  kill -0 "$bastion_pid" 2>/dev/null || break
  sleep 0.05
done
if kill -0 "$bastion_pid" 2>/dev/null; then
  echo "FAIL: bastion still running 15 s after SIGTERM" >&2; failures=$((failures + 1))
else
  wait "$bastion_pid"; exit_status=$?
  bastion_pid=""
  if [[ "$exit_status" != 0 ]]; then
    echo "FAIL: bastion exited $exit_status on SIGTERM" >&2; tail -n 50 "$dir/bastion.log" >&2; failures=$((failures + 1))
  fi
fi

if (( failures > 0 )); then
  echo "slowloris: $failures failure(s)" >&2
  exit 1
fi
echo "slowloris: PASS"
