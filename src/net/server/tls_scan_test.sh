#!/usr/bin/env bash
# ctest "tls_scan": makes a self-signed EC certificate, starts tls_echo_server (HttpServer with
# Bastion's TLS settings) on a free loopback port, runs tests/security/tls_scan.sh against it,
# and stops the server by PID. First proves the scan can fail: a deliberately weak
# `openssl s_server` (TLS 1.0, CBC suites) must be rejected.
# Usage: tls_scan_test.sh PATH/TO/tls_echo_server PATH/TO/tls_scan.sh
set -uo pipefail
SERVER=$1
SCAN=$2
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tls-scan-test.XXXXXX")
PIDS=()
# shellcheck disable=SC2317  # runs from the trap
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [[ ${KEEP:-0} == 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# Waits (bounded) until FILE has a line matching PATTERN while PID is alive.
wait_for() {
  local file=$1 pattern=$2 pid=$3
  for _ in $(seq 100); do
    grep -qE "$pattern" "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

cd "$WORK" || exit 1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -out cert.pem -days 365 \
  -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -addext "keyUsage=critical,digitalSignature" -addext "extendedKeyUsage=serverAuth" 2>openssl.log ||
  { cat openssl.log; exit 1; }
chmod 600 key.pem

# 1. The gate must fail on a weak server (sslscan part only: seconds).
openssl s_server -accept 127.0.0.1:0 -cert cert.pem -key key.pem -www -tls1 -cipher 'DEFAULT:@SECLEVEL=0' \
  >weak.log 2>&1 </dev/null &
PIDS+=($!)
wait_for weak.log '^ACCEPT ' "${PIDS[-1]}" || { echo "weak openssl s_server did not start"; cat weak.log; exit 1; }
weak_port=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' weak.log)
TLS_SCAN_SKIP_TESTSSL=1 "$SCAN" "127.0.0.1:$weak_port" "$WORK/weak-scan" >weak-scan.txt 2>&1
weak_rc=$?
if [[ $weak_rc -ne 1 ]]; then
  echo "tls_scan.sh did not reject a TLS 1.0 server (exit $weak_rc):"
  cat weak-scan.txt
  exit 1
fi
echo "weak server rejected as expected: $(grep -c FAIL: weak-scan.txt) problems"

# 2. The real thing.
"$SERVER" cert.pem key.pem 127.0.0.1:0 "$WORK/port" >server.log 2>&1 </dev/null &
PIDS+=($!)
wait_for port '^[0-9]+$' "${PIDS[-1]}" || { echo "tls_echo_server did not start"; cat server.log; exit 1; }
port=$(cat port)
"$SCAN" "127.0.0.1:$port" "$WORK/scan"
rc=$?

# The server must survive the scan and stop cleanly on SIGTERM (sanitizer builds report here).
server_pid=${PIDS[-1]}
if ! kill -TERM "$server_pid" 2>/dev/null; then
  echo "tls_echo_server died during the scan:"
  cat server.log
  rc=1
else
  for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$server_pid" 2>/dev/null
  wait "$server_pid"
  src=$?
  if [[ $src -ne 0 ]]; then
    echo "tls_echo_server exited with $src after SIGTERM:"
    cat server.log
    rc=1
  fi
fi
[[ $rc -eq 0 ]] || KEEP=1
exit $rc
