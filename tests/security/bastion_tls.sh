#!/usr/bin/env bash
# The real bastion binary with TLS on its public listener:
#   tls   - a certificate from files: HTTPS works, HSTS is sent, a renewed certificate on disk is
#           served to new connections without a restart, then sslscan + testssl (tls_scan.sh)
#   acme  - run under tests/services/pebble.sh: Bastion obtains its certificate from Pebble
#           through HTTP-01 on its redirect listener and serves it on the public listener
# Usage: bastion_tls.sh tls|acme     (BASTION_BIN, BASTION_DEMO_AGENT from ctest)
set -euo pipefail
mode=${1:?usage: $0 tls|acme}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
chmod 755 "$work"
pid=""
cleanup() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "bastion_tls($mode): FAIL: $*" >&2; [[ -f $work/bastion.log ]] && tail -20 "$work/bastion.log" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

start_bastion() {  # config-file
  "$BASTION_BIN" serve -c "$1" --ready-file "$work/ready" >"$work/bastion.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do
    grep -q '"public"' "$work/ready" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || fail "bastion exited during start"
    sleep 0.05
  done
  fail "bastion not ready"
}

stop_bastion() {
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  pid=""
  [[ $rc == 0 ]] || fail "bastion exited $rc on SIGTERM"
}

serial_of() {  # host port -> serial served to a new connection
  echo | openssl s_client -connect "127.0.0.1:$2" -servername "$1" 2>/dev/null | openssl x509 -noout -serial
}

if [[ $mode == tls ]]; then
  mkcert() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj "/CN=localhost" \
      -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
    chgrp nogroup "$work/key.pem" 2>/dev/null && chmod 640 "$work/key.pem" || chmod 644 "$work/key.pem"; }  # run_as re-reads it on renewal
  mkcert
  port=$(free_port)
  cat >"$work/bastion.yaml" <<YAML
data_dir: $work/data
rate_limits: []
listen:
  public: {address: "127.0.0.1:$port", tls: {cert_file: "$work/cert.pem", key_file: "$work/key.pem"}}
  admin: {address: "127.0.0.1:0"}
upstreams:
  demo: {command: "$BASTION_DEMO_AGENT"}
YAML
  start_bastion "$work/bastion.yaml"
  headers=$(curl -sS --cacert "$work/cert.pem" -D - -o /dev/null "https://localhost:$port/healthz") || fail "HTTPS request failed"
  grep -qi '^strict-transport-security: max-age=31536000; includeSubDomains' <<<"$headers" || fail "no HSTS over TLS: $headers"
  grep -qi '^x-frame-options: SAMEORIGIN' <<<"$headers" || fail "no X-Frame-Options"
  curl -sS -o /dev/null --tls-max 1.1 --cacert "$work/cert.pem" "https://localhost:$port/healthz" 2>/dev/null && fail "TLS 1.1 accepted"
  before=$(serial_of localhost "$port")
  mkcert  # a renewal written in place, as certbot does
  after=""
  for _ in $(seq 1 200); do  # the watcher polls every 5 s
    after=$(serial_of localhost "$port")
    [[ $after != "$before" ]] && break
    sleep 0.1
  done
  [[ $after != "$before" ]] || fail "renewed certificate not picked up ($before)"
  echo "bastion_tls(tls): HTTPS, HSTS, TLS 1.1 refused, renewal picked up ($before -> $after)"
  "$here/tls_scan.sh" "127.0.0.1:$port" "$work/scan" || fail "tls_scan found problems"
  stop_bastion
  echo "bastion_tls(tls): PASS"
  exit 0
fi

# acme (inside pebble.sh)
: "${BASTION_TEST_PEBBLE_DIR:?run under tests/services/pebble.sh}"
port=$(free_port)
cat >"$work/bastion.yaml" <<YAML
data_dir: $work/data
rate_limits: []
listen:
  public:
    address: "127.0.0.1:$port"
    tls:
      acme: {directory_url: "$BASTION_TEST_PEBBLE_DIR", email: ops@example.test, domains: [example.test],
             ca_file: "$BASTION_TEST_PEBBLE_CA", retry_min: 500ms, retry_max: 5s}
  redirect: {address: "127.0.0.1:$BASTION_TEST_ACME_HTTP_PORT"}
  admin: {address: "127.0.0.1:0"}
upstreams:
  demo: {command: "$BASTION_DEMO_AGENT"}
YAML
cp "$BASTION_TEST_PEBBLE_CA" "$work/pebble-ca.pem" && chmod 644 "$work/pebble-ca.pem"
sed -i "s#ca_file: \"$BASTION_TEST_PEBBLE_CA\"#ca_file: \"$work/pebble-ca.pem\"#" "$work/bastion.yaml"
start_bastion "$work/bastion.yaml"
issuer=""
for _ in $(seq 1 300); do  # bounded: 30 s
  issuer=$(echo | openssl s_client -connect "127.0.0.1:$port" -servername example.test 2>/dev/null | openssl x509 -noout -issuer 2>/dev/null || true)
  [[ $issuer == *Pebble* ]] && break
  sleep 0.1
done
[[ $issuer == *Pebble* ]] || fail "the public listener never served a Pebble-issued certificate (issuer: $issuer)"
find "$work/data/acme" -name '*key*.pem' -type f | while read -r f; do
  [[ $(stat -c %a "$f") == 600 ]] || fail "$f is not 0600"
done
grep -q "TLS certificate loaded" "$work/bastion.log" || fail "no reload logged"
stop_bastion
echo "bastion_tls(acme): PASS ($issuer)"
